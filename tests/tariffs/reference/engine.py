"""The pricing engine: a Tariff + charging periods -> every CDR total.

Rules, with the spec text they come from:

* Tariff Object: "the first Tariff Element with a Price Component for that dimension in the list
  with matching Tariff Restrictions will be used" - looked up per dimension, per instant; an
  unmatched dimension costs nothing.
* TariffRestrictions: evaluated continuously, so the session is cut into segments wherever a
  restriction may start or stop holding (local times of day, local midnight, DST changes, session
  durations, cumulative kWh); see :mod:`app.tariffs.restrictions`.
* TariffDimensionType: ENERGY per kWh, TIME / PARKING_TIME per hour, FLAT once.
* CDR Object, "step_size": rounding happens once per session on the session total of the
  dimension, with the step_size of the last relevant component, the extra volume billed at that
  component's price; "once for PARKING_TIME and TIME combined": only the dimension of the last
  time-based component that was active is rounded (charging followed by parking rounds the parking
  time only; errata: the "switching to Free-of-Charge" example totals EUR 0.73).
* Reservation (ReservationRestrictionType): reservation time is priced by the TIME component of
  RESERVATION elements (RESERVATION_EXPIRES first when the reservation expired), with its own
  FLAT fee and its own step_size rounding, into ``total_reservation_cost``.
* min_price / max_price: the excl. VAT and incl. VAT bounds apply independently.

Amounts are exact ``Decimal``; rounding to the four decimals of OCPI happens only when a result is
written into a CDR (:func:`apply_to_cdr`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import ROUND_CEILING, Decimal, localcontext
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.ocpi.schemas.cdrs import CDR, ChargingPeriod
from app.ocpi.schemas.common import Price
from app.ocpi.schemas.tariffs import TariffDimensionType
from app.tariffs.money import Cost, ocpi_round
from tests.tariffs.reference.model import (
    CompiledTariff,
    Component,
    Element,
    Limit,
    Period,
    SessionDataError,
    Table,
    TariffError,
    TariffTerms,
    compile_tariff,
    normalise_periods,
)
from tests.tariffs.reference.restrictions import Reservation, SegmentState, local_boundaries

__all__ = [
    "Context",
    "CostLine",
    "PricedSession",
    "apply_to_cdr",
    "cdr_totals",
    "price_cdr",
    "price_session",
    "resolve_time_zone",
    "running_cost",
]

Dim = TariffDimensionType

_ZERO = Decimal(0)
_ONE = Decimal(1)
_WH_PER_KWH = Decimal(1000)
_S_PER_HOUR = Decimal(3600)
_MICRO_KWH = Decimal("0.000000001")
_DUST = Decimal("0.000001")  # below a millionth of a Wh / second, differences are arithmetic
_MICROSECOND = timedelta(microseconds=1)
_PRECISION = 40


class Context(StrEnum):
    CHARGING = "CHARGING"
    RESERVATION = "RESERVATION"


@dataclass(frozen=True, slots=True)
class CostLine:
    """One priced piece of the session (for explanations and audits)."""

    context: Context
    dimension: TariffDimensionType
    start: datetime
    end: datetime
    element_index: int
    price: Decimal
    vat: Decimal | None
    step_size: int
    volume: Decimal  # kWh for ENERGY, hours for TIME / PARKING_TIME, 1 for FLAT
    cost: Cost
    step_rounding: bool = False  # the volume added by step_size rounding


@dataclass(frozen=True, slots=True)
class PricedSession:
    """Every CDR total, unrounded. ``apply_to_cdr`` writes them, rounded, into a CDR."""

    tariff_id: str
    currency: str
    start: datetime
    end: datetime
    total_cost: Cost
    total_fixed_cost: Cost
    total_energy: Decimal
    total_energy_cost: Cost
    total_time: Decimal
    total_time_cost: Cost
    total_parking_time: Decimal
    total_parking_cost: Cost
    total_reservation_time: Decimal
    total_reservation_cost: Cost
    billed_energy: Decimal  # energy priced, after step_size rounding
    billed_time: Decimal
    billed_parking_time: Decimal
    billed_reservation_time: Decimal
    min_price_applied: bool
    max_price_applied: bool
    lines: tuple[CostLine, ...]

    @property
    def total_charging_time(self) -> Decimal:
        return self.total_time - self.total_parking_time

    @property
    def subtotal(self) -> Cost:
        """Sum of the parts, before min_price / max_price."""
        return (
            self.total_fixed_cost
            + self.total_energy_cost
            + self.total_time_cost
            + self.total_parking_cost
            + self.total_reservation_cost
        )


@dataclass(slots=True)
class _Segment:
    start: datetime
    end: datetime
    state: SegmentState
    energy: Decimal
    time: Decimal
    parking: Decimal
    reservation: Decimal
    is_reservation: bool


class _Dimension:
    """Accumulates one priced dimension over the session."""

    __slots__ = ("billable", "context", "cost", "dimension", "last", "lines", "order")

    def __init__(self, context: Context, dimension: TariffDimensionType) -> None:
        self.context = context
        self.dimension = dimension
        self.billable = _ZERO
        self.cost = Cost.zero()
        self.last: tuple[Component, _Segment] | None = None
        self.order = -1  # position of the last billed segment, to find the last time-based one
        self.lines: list[CostLine] = []

    def bill(self, component: Component, segment: _Segment, volume: Decimal, order: int) -> None:
        excl = volume * component.price
        cost = Cost(excl, excl * component.vat_factor)
        self.billable += volume
        self.cost += cost
        self.last = (component, segment)
        self.order = order
        self.lines.append(_line(self.context, component, segment, volume, cost, False))

    def round_step(self, unit: Decimal) -> Decimal:
        """step_size rounding on the session total; returns the volume added."""
        if self.last is None:
            return _ZERO
        component, segment = self.last
        step = component.step_size
        if step <= 0 or self.billable <= 0:
            return _ZERO
        units = (self.billable * unit).quantize(_DUST)
        rounded = (units / step).to_integral_value(rounding=ROUND_CEILING) * step / unit
        extra = rounded - self.billable
        if extra <= 0:
            return _ZERO
        excl = extra * component.price
        cost = Cost(excl, excl * component.vat_factor)
        self.billable += extra
        self.cost += cost
        self.lines.append(_line(self.context, component, segment, extra, cost, True))
        return extra


def _line(
    context: Context,
    component: Component,
    segment: _Segment,
    volume: Decimal,
    cost: Cost,
    step_rounding: bool,
) -> CostLine:
    return CostLine(
        context=context,
        dimension=component.dimension,
        start=segment.start,
        end=segment.end,
        element_index=component.element_index,
        price=component.price,
        vat=component.vat,
        step_size=component.step_size,
        volume=volume,
        cost=cost,
        step_rounding=step_rounding,
    )


def resolve_time_zone(time_zone: str | tzinfo) -> tzinfo:
    """An IANA time zone name (Location.time_zone) or a tzinfo -> tzinfo. ValueError if unknown."""
    if isinstance(time_zone, tzinfo):
        return time_zone
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {time_zone!r}") from None


def _is_fixed(tz: tzinfo) -> bool:
    if isinstance(tz, timezone):
        return True
    key = getattr(tz, "key", "") or ""
    return key == "UTC" or key.startswith("Etc/")


def _segments(
    tariff: CompiledTariff,
    periods: Sequence[Period],
    tz: tzinfo,
    charging_origin: datetime,
    reservation_origin: datetime,
) -> list[_Segment]:
    """Cut the periods wherever a restriction of the tariff may change, volumes pro rata."""
    first, last = periods[0].start, periods[-1].end
    cuts: set[datetime] = set()
    if tariff.uses_local_time:
        cuts.update(local_boundaries(tz, tariff.time_points, first, last, fixed=_is_fixed(tz)))
    for seconds in tariff.duration_points:
        cuts.add(charging_origin + timedelta(seconds=seconds))
        cuts.add(reservation_origin + timedelta(seconds=seconds))
    cut_list = sorted(cuts)
    kwh_points = tariff.kwh_points
    local_time = tariff.uses_local_time

    segments: list[_Segment] = []
    energy_before = _ZERO
    for p in periods:
        span_us = (p.end - p.start) // _MICROSECOND
        # (fraction of the period, instant, cumulative energy at that point if known exactly)
        points: list[tuple[Decimal, datetime, Decimal | None]] = []
        if span_us > 0:
            span = Decimal(span_us)
            lo = bisect.bisect_right(cut_list, p.start)
            hi = bisect.bisect_left(cut_list, p.end)
            for instant in cut_list[lo:hi]:
                points.append((Decimal((instant - p.start) // _MICROSECOND) / span, instant, None))
            if kwh_points and p.energy != 0:
                e_from, e_to = energy_before, energy_before + p.energy
                low, high = min(e_from, e_to), max(e_from, e_to)
                for kwh in kwh_points:
                    if low < kwh < high:
                        fraction = (kwh - e_from) / p.energy
                        instant = p.start + timedelta(microseconds=int(span * fraction))
                        points.append((fraction, instant, kwh))
            points.sort(key=lambda point: point[0])
        points.append((_ONE, p.end, energy_before + p.energy))

        origin = reservation_origin if p.is_reservation else charging_origin
        prev_f, prev_t, prev_e = _ZERO, p.start, energy_before
        for fraction, instant, exact_energy in points:
            if fraction <= prev_f and fraction != _ONE:
                if exact_energy is not None:
                    prev_e = exact_energy  # same point, exact cumulative energy known
                continue
            e_here = (
                exact_energy if exact_energy is not None else energy_before + p.energy * fraction
            )
            share = fraction - prev_f
            if local_time:
                loc = prev_t.astimezone(tz)
                local_seconds = (
                    loc.hour * 3600 + loc.minute * 60 + loc.second + loc.microsecond / 1e6
                )
                local_date, weekday = loc.date(), loc.weekday()
            else:
                local_seconds, local_date, weekday = 0.0, prev_t.date(), prev_t.weekday()
            state = SegmentState(
                local_seconds=local_seconds,
                local_date=local_date,
                weekday=weekday,
                energy_kwh=prev_e,
                duration_s=Decimal((prev_t - origin) // _MICROSECOND).scaleb(-6),
                power_low=p.power_low,
                power_high=p.power_high,
                current_low=p.current_low,
                current_high=p.current_high,
            )
            segments.append(
                _Segment(
                    start=prev_t,
                    end=instant,
                    state=state,
                    energy=e_here - prev_e,
                    time=p.time * share,
                    parking=p.parking * share,
                    reservation=p.reservation * share,
                    is_reservation=p.is_reservation,
                )
            )
            prev_f, prev_t, prev_e = fraction, max(instant, prev_t), e_here
        energy_before += p.energy
    return segments


def _lookup(
    table: Table, dim: TariffDimensionType, state: SegmentState, cache: dict[int, bool]
) -> Component | None:
    """First element with a component for ``dim`` whose restrictions all hold."""
    for element, component in table[dim]:
        ok = cache.get(element.index)
        if ok is None:
            ok = _holds(element, state)
            cache[element.index] = ok
        if ok:
            return component
    return None


def _holds(element: Element, state: SegmentState) -> bool:
    return element.restrictions is None or element.restrictions.holds(state)


def _clamp(total: Cost, tariff: CompiledTariff) -> tuple[Cost, bool, bool]:
    """min_price / max_price: "they both apply" to excl. and incl. VAT independently.

    When a bound gives no ``incl_vat``, the amount incl. VAT moves in proportion to the amount
    excl. VAT (the session's own VAT rate is kept).
    """
    excl, incl = total.excl_vat, total.incl_vat
    min_applied = max_applied = False

    def bound(limit: Limit, is_min: bool) -> None:
        nonlocal excl, incl, min_applied, max_applied
        new_excl = max(excl, limit.excl_vat) if is_min else min(excl, limit.excl_vat)
        if limit.incl_vat is not None:
            new_incl = max(incl, limit.incl_vat) if is_min else min(incl, limit.incl_vat)
        elif new_excl != excl:
            new_incl = incl * new_excl / excl if excl != 0 else new_excl
        else:
            new_incl = incl
        if (new_excl, new_incl) != (excl, incl):
            if is_min:
                min_applied = True
            else:
                max_applied = True
        excl, incl = new_excl, new_incl

    if tariff.min_price is not None:
        bound(tariff.min_price, True)
    if tariff.max_price is not None:
        bound(tariff.max_price, False)
    return Cost(excl, incl), min_applied, max_applied


def price_session(
    tariff: TariffTerms | CompiledTariff,
    charging_periods: Sequence[ChargingPeriod],
    start: datetime,
    end: datetime,
    time_zone: str | tzinfo = "UTC",
    reservation: Reservation | str | None = None,
) -> PricedSession:
    """Price a session (or a CDR's charging periods) with a tariff.

    ``time_zone`` is the Location's ``time_zone``: restrictions on times, dates and days are in
    local time. ``reservation``: ``RESERVATION_EXPIRES`` when the reservation expired without a
    charging session, ``RESERVATION`` when it was used; by default a session with reservation
    periods (``RESERVATION_TIME`` dimension) counts as expired when it has no other periods.
    Raises :class:`TariffError` / :class:`SessionDataError` (both ``ValueError``) on bad input.
    """
    compiled = tariff if isinstance(tariff, CompiledTariff) else compile_tariff(tariff)
    tz = resolve_time_zone(time_zone)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _price(compiled, charging_periods, start, end, tz, reservation)


def _price(
    tariff: CompiledTariff,
    charging_periods: Sequence[ChargingPeriod],
    start: datetime,
    end: datetime,
    tz: tzinfo,
    reservation: Reservation | str | None,
) -> PricedSession:
    periods = normalise_periods(charging_periods, start, end)
    has_reservation = any(p.is_reservation for p in periods)
    charging_periods_ = [p for p in periods if not p.is_reservation]
    if reservation is None:
        expired = has_reservation and not charging_periods_
    else:
        try:
            expired = Reservation(str(reservation)) is Reservation.RESERVATION_EXPIRES
        except ValueError:
            raise SessionDataError("reservation", f"unknown value {reservation!r}") from None
    reservation_origin = min(start, periods[0].start)
    # min_duration / max_duration count from the start of the charging session, which follows
    # the reservation when there was one.
    charging_origin = (
        charging_periods_[0].start if has_reservation and charging_periods_ else reservation_origin
    )
    segments = _segments(tariff, periods, tz, charging_origin, reservation_origin)

    energy = _Dimension(Context.CHARGING, Dim.ENERGY)
    time = _Dimension(Context.CHARGING, Dim.TIME)
    parking = _Dimension(Context.CHARGING, Dim.PARKING_TIME)
    reserved = _Dimension(Context.RESERVATION, Dim.TIME)
    flats: dict[Context, CostLine] = {}
    charging_table = tariff.charging
    reservation_table = tariff.reservation_expired if expired else tariff.reservation
    total_energy = total_time = total_parking = total_reservation = _ZERO

    order = 0
    for seg in segments:
        cache: dict[int, bool] = {}
        state = seg.state
        if seg.is_reservation:
            total_reservation += seg.reservation
            if seg.reservation > 0:
                comp = _lookup(reservation_table, Dim.TIME, state, cache)
                if comp is not None:
                    reserved.bill(comp, seg, seg.reservation, order)
            context, table = Context.RESERVATION, reservation_table
        else:
            total_energy += seg.energy
            total_time += seg.time + seg.parking
            total_parking += seg.parking
            # Energy fed back into the grid is not billed at the charging price.
            if seg.energy > 0:
                comp = _lookup(charging_table, Dim.ENERGY, state, cache)
                if comp is not None:
                    energy.bill(comp, seg, seg.energy, order)
            if seg.time > 0:
                comp = _lookup(charging_table, Dim.TIME, state, cache)
                if comp is not None:
                    time.bill(comp, seg, seg.time, order)
            order += 1  # within one period, parking is taken to follow charging
            if seg.parking > 0:
                comp = _lookup(charging_table, Dim.PARKING_TIME, state, cache)
                if comp is not None:
                    parking.bill(comp, seg, seg.parking, order)
            context, table = Context.CHARGING, charging_table
        order += 1
        # FLAT: "Flat fee", billed once: the first FLAT component active in the session (and once
        # more for a reservation, which tariff_16's worked example bills on top of the start fee).
        if context not in flats:
            comp = _lookup(table, Dim.FLAT, state, cache)
            if comp is not None:
                cost = Cost(comp.price, comp.price * comp.vat_factor)
                flats[context] = _line(context, comp, seg, _ONE, cost, False)

    energy.round_step(_WH_PER_KWH)
    # "once for PARKING_TIME and TIME combined": the dimension of the last time-based component
    # that was active is rounded, the other one is not ("Note that the charging duration is not
    # rounded up, as it is followed by another time based period").
    last_time_based = parking if parking.order > time.order else time
    last_time_based.round_step(_S_PER_HOUR)
    reserved.round_step(_S_PER_HOUR)

    fixed = flats[Context.CHARGING].cost if Context.CHARGING in flats else Cost.zero()
    reservation_cost = reserved.cost
    if Context.RESERVATION in flats:
        reservation_cost += flats[Context.RESERVATION].cost
    subtotal = fixed + energy.cost + time.cost + parking.cost + reservation_cost
    total, min_applied, max_applied = _clamp(subtotal, tariff)

    lines = [*flats.values(), *energy.lines, *time.lines, *parking.lines, *reserved.lines]
    lines.sort(key=lambda line: (line.start, line.step_rounding))
    return PricedSession(
        tariff_id=tariff.tariff_id,
        currency=tariff.currency,
        start=start,
        end=end,
        total_cost=total,
        total_fixed_cost=fixed,
        # Segments split a period's energy by fractions; their sum can carry arithmetic dust
        # (4.378999...9 for 4.379 kWh). A µWh is far below any meter's resolution.
        total_energy=total_energy.quantize(_MICRO_KWH),
        total_energy_cost=energy.cost,
        total_time=total_time,
        total_time_cost=time.cost,
        total_parking_time=total_parking,
        total_parking_cost=parking.cost,
        total_reservation_time=total_reservation,
        total_reservation_cost=reservation_cost,
        billed_energy=energy.billable,
        billed_time=time.billable,
        billed_parking_time=parking.billable,
        billed_reservation_time=reserved.billable,
        min_price_applied=min_applied,
        max_price_applied=max_applied,
        lines=tuple(lines),
    )


def running_cost(
    tariff: TariffTerms | CompiledTariff,
    charging_periods: Sequence[ChargingPeriod],
    start: datetime,
    now: datetime,
    time_zone: str | tzinfo = "UTC",
) -> PricedSession:
    """Cost of a live session if it ended at ``now`` (same engine, partial data).

    step_size rounding, FLAT fees and min_price apply as they would to a CDR ending now, so the
    figure is what the driver would pay when stopping now. ``now`` earlier than the last period
    start (clock skew) is treated as that start.
    """
    floor = charging_periods[-1].start_date_time if charging_periods else start
    now = max(now, floor)
    return price_session(tariff, charging_periods, start, now, time_zone)


def price_cdr(
    cdr: CDR,
    tariff: TariffTerms | CompiledTariff | None = None,
    time_zone: str | tzinfo = "UTC",
    reservation: Reservation | str | None = None,
) -> PricedSession:
    """Price a CDR's charging periods (its totals are ignored).

    Without ``tariff``, the first tariff in ``cdr.tariffs`` is used. Charging periods are all
    priced with that tariff; their ``tariff_id`` is not consulted.
    """
    if tariff is None:
        if not cdr.tariffs:
            raise TariffError("tariffs", "the CDR carries no tariff and none was given")
        tariff = cdr.tariffs[0]
    return price_session(
        tariff, cdr.charging_periods, cdr.start_date_time, cdr.end_date_time, time_zone, reservation
    )


def _price_model(cost: Cost) -> Price:
    rounded = cost.rounded()
    return Price(excl_vat=rounded.excl_vat, incl_vat=rounded.incl_vat)


def cdr_totals(priced: PricedSession) -> dict[str, Any]:
    """Every CDR total of ``priced``, rounded to 4 decimals, by CDR field name."""
    return {
        "total_cost": _price_model(priced.total_cost),
        "total_fixed_cost": _price_model(priced.total_fixed_cost),
        "total_energy": ocpi_round(priced.total_energy),
        "total_energy_cost": _price_model(priced.total_energy_cost),
        "total_time": ocpi_round(priced.total_time),
        "total_time_cost": _price_model(priced.total_time_cost),
        "total_parking_time": ocpi_round(priced.total_parking_time),
        "total_parking_cost": _price_model(priced.total_parking_cost),
        "total_reservation_cost": _price_model(priced.total_reservation_cost),
    }


def apply_to_cdr(cdr: CDR, priced: PricedSession) -> CDR:
    """A copy of ``cdr`` with every total replaced by the engine's, rounded to 4 decimals."""
    return cdr.model_copy(update=cdr_totals(priced))
