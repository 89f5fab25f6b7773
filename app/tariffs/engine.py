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

How it is fast (issue 16): instants are integers (microseconds since 1970-01-01 UTC) and local time
is UTC plus the zone's offset, looked up once per CDR when no offset change (DST) falls near the
session - only sessions near a DST change go through ``zoneinfo`` per segment. Restrictions are
bitmasks prepared when the tariff is compiled (:mod:`app.tariffs.masks`), so finding the element
of every dimension for a segment is a few binary searches, an AND and a dictionary look-up; the
masks of the time-based restrictions are worked out once per interval between cuts, not once per
segment.
Volumes and amounts stay ``Decimal`` with the same operations, in the same order, as the
straightforward engine this replaced (kept as the oracle of the tests), so every total is the
same to the last digit; cost lines are only built when asked for. Why not integers: a cut inside
a period splits it by a fraction such as 5/15, which the reference rounds to 40 significant
digits, and every later product and sum of that segment is rounded again at 40 digits; exact
integer (or rational) arithmetic gives the mathematically exact value instead, which differs
from the reference's in the 40th digit (the 4-decimal CDR totals would almost always agree, the
unrounded amounts and cost lines would not). Emulating the 40-digit rounding in Python costs more
than ``decimal`` does in C. An operation is left out only where its result is provably the
operand itself, with the same exponent (``fraction - 0`` for the first segment of a period).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import (
    ROUND_CEILING,
    ROUND_HALF_EVEN,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    getcontext,
    localcontext,
    setcontext,
)
from decimal import (
    Context as DecimalContext,
)
from enum import StrEnum
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.ocpi.schemas.cdrs import CDR, ChargingPeriod
from app.ocpi.schemas.common import Price
from app.ocpi.schemas.tariffs import TariffDimensionType
from app.tariffs.masks import DAY_US, Masks
from app.tariffs.model import (
    CompiledTariff,
    Component,
    SessionDataError,
    TariffError,
    TariffTerms,
    compile_tariff,
    normalise_periods,
)
from app.tariffs.money import Cost, ocpi_round
from app.tariffs.restrictions import Reservation, local_boundaries

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
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_START = attrgetter("start_date_time")
_PRECISION = 40
# Amounts are computed with 40 significant digits, rounding half even (Python's default context).
# Shared by every thread: the engine only reads it (its flags are not consulted).
_CONTEXT = DecimalContext(
    prec=_PRECISION, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


class Context(StrEnum):
    CHARGING = "CHARGING"
    RESERVATION = "RESERVATION"


_CHARGING, _RESERVATION = Context.CHARGING, Context.RESERVATION


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


# A billed piece of a dimension: (component, segment start, segment end, volume); instants in µs
# since 1970-01-01 UTC.
_Piece = tuple[Component, int, int, Decimal]
# The pieces of one dimension (or one flat fee), kept until the cost lines are asked for: context,
# pieces, the piece added by step_size rounding, whether it is a flat fee.
_Group = tuple[Context, list[_Piece], _Piece | None, bool]


class _Lines:
    """The cost lines of a PricedSession, built from the billed pieces when first used."""

    __slots__ = ("_built", "_groups")

    def __init__(self, groups: list[_Group]) -> None:
        self._groups = groups
        self._built: tuple[CostLine, ...] | None = None

    def built(self) -> tuple[CostLine, ...]:
        if self._built is None:
            lines: list[CostLine] = []
            with localcontext() as ctx:
                ctx.prec = _PRECISION  # the amounts as the engine computed them
                for context, pieces, rounding, flat in self._groups:
                    for component, start, end, volume in pieces:
                        lines.append(_line(context, component, start, end, volume, False, flat))
                    if rounding is not None:
                        lines.append(_line(context, *rounding, True, False))
            lines.sort(key=lambda line: (line.start, line.step_rounding))  # stable
            self._built = tuple(lines)
        return self._built

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Lines) and self.built() == other.built()

    def __hash__(self) -> int:
        return hash(self.built())

    def __repr__(self) -> str:
        return repr(self.built())


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
    _lines: _Lines

    @property
    def lines(self) -> tuple[CostLine, ...]:
        """Every priced piece of the session, in order (built on first use)."""
        return self._lines.built()

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


def _line(
    context: Context,
    component: Component,
    start: int,
    end: int,
    volume: Decimal,
    step_rounding: bool,
    flat: bool,
) -> CostLine:
    excl = component.price if flat else volume * component.price  # a flat fee is its price
    return CostLine(
        context=context,
        dimension=component.dimension,
        start=_datetime(start),
        end=_datetime(end),
        element_index=component.element_index,
        price=component.price,
        vat=component.vat,
        step_size=component.step_size,
        volume=volume,
        cost=Cost(excl, excl * component.vat_factor),
        step_rounding=step_rounding,
    )


_new_object = object.__new__
_set_excl_vat = Cost.__dict__["excl_vat"].__set__
_set_incl_vat = Cost.__dict__["incl_vat"].__set__


def _cost(excl_vat: Decimal, incl_vat: Decimal) -> Cost:
    """``Cost(excl_vat, incl_vat)`` at two thirds of the price: a frozen dataclass's __init__
    goes through object.__setattr__ per field; this sets the two slots directly (Cost has no
    __post_init__, nothing else to run)."""
    cost: Cost = _new_object(Cost)
    _set_excl_vat(cost, excl_vat)
    _set_incl_vat(cost, incl_vat)
    return cost


_PRICED_FIELDS = tuple(PricedSession.__dict__[f.name].__set__ for f in fields(PricedSession))


def _priced_session(*values: Any) -> PricedSession:
    """``PricedSession(*values)`` (every field, in the order declared) at about half the price:
    the frozen dataclass's __init__ goes through object.__setattr__ per field (21 of them); this
    sets the slots directly (PricedSession has no __post_init__, nothing else to run)."""
    priced: PricedSession = _new_object(PricedSession)
    for set_field, value in zip(_PRICED_FIELDS, values, strict=True):
        set_field(priced, value)
    return priced


def _round_step(
    pieces: list[_Piece], billable: Decimal, excl: Decimal, incl: Decimal, unit: Decimal
) -> tuple[Decimal, Decimal, Decimal, _Piece | None]:
    """step_size rounding on the session total of a dimension, billed at the last component's
    price: (billable, excl, incl) after rounding, and the piece it added (None: nothing added)."""
    if not pieces:
        return billable, excl, incl, None
    component, last_start, last_end, _ = pieces[-1]
    step = component.step_size
    if step <= 0 or billable <= 0:
        return billable, excl, incl, None
    units = (billable * unit).quantize(_DUST)
    rounded = (units / step).to_integral_value(ROUND_CEILING) * step / unit
    extra = rounded - billable
    if extra <= 0:
        return billable, excl, incl, None
    extra_excl = extra * component.price
    return (
        billable + extra,
        excl + extra_excl,
        incl + extra_excl * component.vat_factor,
        (component, last_start, last_end, extra),
    )


def _us(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH  # its fields in integer arithmetic: cheaper than // _MICROSECOND
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def resolve_time_zone(time_zone: str | tzinfo) -> tzinfo:
    """An IANA time zone name (Location.time_zone) or a tzinfo -> tzinfo. ValueError if unknown."""
    if isinstance(time_zone, tzinfo):
        return time_zone
    zone = _ZONES.get(time_zone)
    if zone is not None:
        return zone
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {time_zone!r}") from None
    if len(_ZONES) < 1024:
        _ZONES[time_zone] = zone
    return zone


_ZONES: dict[str, tzinfo] = {}  # known zones by name (ZoneInfo's own cache costs more)


def _is_fixed(tz: tzinfo) -> bool:
    if isinstance(tz, timezone):
        return True
    key = getattr(tz, "key", "") or ""
    return key == "UTC" or key.startswith("Etc/")


# UTC offsets (µs) of zones at every 12 hours (00:00 and 12:00 UTC), by (zone, half-day number).
_OFFSETS: dict[tuple[tzinfo, int], int] = {}
_OFFSETS_LIMIT = 200_000
_HALF_DAY_US = 43_200_000_000
# A local time of day within this of the session can map to an instant inside it (offsets lie
# within -12 h and +14 h).
_MARGIN_US = 28 * 3_600_000_000


def _offset_at(tz: tzinfo, us: int) -> int:
    offset = _datetime(us).astimezone(tz).utcoffset()
    return offset // _MICROSECOND if offset is not None else 0


def _fixed_offset(tz: tzinfo, first: int, last: int) -> int | None:
    """The zone's UTC offset when it does not change near [first, last], else None.

    Like the DST search of :func:`app.tariffs.restrictions.local_boundaries`, this assumes that no
    zone changes its offset twice within 12 hours.
    """
    if isinstance(tz, timezone):
        return _offset_at(tz, first)
    low, high = (first - _MARGIN_US) // _HALF_DAY_US, (last + _MARGIN_US) // _HALF_DAY_US + 2
    span = (tz, low, high)
    try:
        return _SPANS[span]
    except KeyError:
        pass
    offset = _span_offset(tz, low, high)
    if len(_SPANS) < _OFFSETS_LIMIT:
        _SPANS[span] = offset
    return offset


# The answers of _fixed_offset by (zone, first half-day, half-day after the last).
_SPANS: dict[tuple[tzinfo, int, int], int | None] = {}


def _span_offset(tz: tzinfo, low: int, high: int) -> int | None:
    offset: int | None = None
    for half in range(low, high):
        key = (tz, half)
        here = _OFFSETS.get(key)
        if here is None:
            here = _offset_at(tz, half * _HALF_DAY_US)
            if len(_OFFSETS) < _OFFSETS_LIMIT:
                _OFFSETS[key] = here
        if offset is None:
            offset = here
        elif here != offset:
            return None
    return offset


def _cuts(
    tariff: CompiledTariff,
    tz: tzinfo,
    offset: int | None,
    first: int,
    last: int,
    charging_origin: int,
    reservation_origin: int,
) -> list[int]:
    """Instants where a restriction of the tariff may start or stop holding, sorted."""
    cuts: list[int] = []
    if tariff.uses_local_time and first < last:
        if offset is not None:
            # Local time is UTC + offset throughout: each day's local times of day, those inside
            # (first, last) found by bisection (the points are sorted, so the cuts come sorted).
            points = tariff.time_points_us
            base = ((first + offset) // DAY_US) * DAY_US - offset  # local midnight, in UTC
            while base < last:
                for point in points[
                    bisect_right(points, first - base) : bisect_left(points, last - base)
                ]:
                    cuts.append(base + point)
                base += DAY_US
        else:
            cuts = sorted(
                {
                    _us(instant)
                    for instant in local_boundaries(
                        tz,
                        tariff.time_points,
                        _datetime(first),
                        _datetime(last),
                        fixed=_is_fixed(tz),
                    )
                }
            )
    # Durations from the charging and the reservation origin; only those inside (first, last)
    # matter (every segment lies in [first, last]; one starting at last is never looked up in
    # the intervals between cuts).
    count = len(cuts)
    for duration in tariff.masks.duration_points:
        instant = charging_origin + duration
        if first < instant < last:
            cuts.append(instant)
        instant = reservation_origin + duration
        if first < instant < last:
            cuts.append(instant)
    if len(cuts) > count:
        cuts = sorted(set(cuts))
    return cuts


def _time_mask(masks: Masks, tz: tzinfo, offset: int | None, instant: int, origin: int) -> int:
    """The elements whose time-of-day, day, date and duration restrictions hold at ``instant``
    (µs since 1970-01-01 UTC), the session's duration counted from ``origin``. ``offset``: the
    zone's UTC offset (µs) when it is fixed around the session, else None."""
    mask = masks.all
    tod_points = masks.tod_points
    if tod_points or masks.day_checks:
        # Local day (days since 1970-01-01) and time of day (µs since local midnight).
        day, time_of_day = divmod(
            instant + (offset if offset is not None else _offset_at(tz, instant)), DAY_US
        )
        if tod_points:
            mask &= masks.tod_masks[bisect_right(tod_points, time_of_day) - 1]
        if masks.day_checks:
            mask &= masks.day_mask(day)
    duration_points = masks.duration_points
    if duration_points:
        mask &= masks.duration_masks[bisect_right(duration_points, instant - origin)]
    return mask


def _fraction(point: tuple[Decimal, int, Decimal | None]) -> Decimal:
    return point[0]


def _price(
    tariff: CompiledTariff,
    charging_periods: Sequence[ChargingPeriod],
    start: datetime,
    end: datetime,
    tz: tzinfo,
    reservation: Reservation | str | None,
) -> PricedSession:
    masks = tariff.masks
    with_power = bool(masks.power_checks)
    start_us = _us(start)
    starts: list[int] = []
    try:
        for moment in map(_START, charging_periods):
            delta = moment - _EPOCH
            starts.append((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)
    except TypeError:  # a naive start_date_time (it cannot be subtracted from an aware one)
        starts = [_us(moment) for moment in map(_START, charging_periods)]
    periods = normalise_periods(charging_periods, starts, start_us, _us(end), with_power)
    has_reservation = False
    first_charging: int | None = None
    for period in periods:
        if period[6]:
            has_reservation = True
        elif first_charging is None:
            first_charging = period[0]
    if reservation is None:
        expired = has_reservation and first_charging is None
    else:
        try:
            expired = Reservation(str(reservation)) is Reservation.RESERVATION_EXPIRES
        except ValueError:
            raise SessionDataError("reservation", f"unknown value {reservation!r}") from None
    reservation_origin = min(start_us, periods[0][0])
    # min_duration / max_duration count from the start of the charging session, which follows
    # the reservation when there was one.
    charging_origin = (
        first_charging if has_reservation and first_charging is not None else reservation_origin
    )
    first, last = periods[0][0], periods[-1][1]
    local_time = tariff.uses_local_time
    offset = _fixed_offset(tz, first, last) if local_time else 0
    cut_list = _cuts(tariff, tz, offset, first, last, charging_origin, reservation_origin)
    kwh_points = tariff.kwh_points
    if kwh_points:
        kwh_first, kwh_last = kwh_points[0], kwh_points[-1]

    # What the restrictions look at, as masks (see app.tariffs.masks). Local time of day, local
    # day and time since the session (or reservation) started only change at a cut: with a fixed
    # UTC offset, every local time of day of the tariff (local midnight among them) and every
    # duration point from either origin that lies inside (first, last) is a cut. Every segment
    # starts in [first, last], so for those starting before last the mask of these
    # restrictions is one per interval between cuts (and per origin), worked out at the first
    # segment that starts in it: time_masks[i] for the interval [cut_list[i - 1], cut_list[i]).
    # Segments starting at ``last`` (a period of no time at the end; no cut is put there) and
    # sessions near a DST change have theirs worked out each time.
    memo_times = offset is not None
    charging_time_masks: list[int | None] = [None] * (len(cut_list) + 1)
    reservation_time_masks: list[int | None] = (
        [None] * (len(cut_list) + 1) if has_reservation else charging_time_masks
    )
    mask_kwh, kwh_masks = masks.kwh_points, masks.kwh_masks
    power_mask = masks.power_mask
    all_elements = masks.all

    # Billed pieces per dimension: (component, segment start, segment end, volume).
    energy_pieces: list[tuple[Component, int, int, Decimal]] = []
    time_pieces: list[tuple[Component, int, int, Decimal]] = []
    parking_pieces: list[tuple[Component, int, int, Decimal]] = []
    reserved_pieces: list[tuple[Component, int, int, Decimal]] = []
    time_order = parking_order = -1  # position of the last billed piece of TIME, PARKING_TIME
    charging_flat: _Piece | None = None
    reservation_flat: _Piece | None = None
    flat_groups: list[_Group] = []  # in the order they were found
    charging_chooser = tariff.choose_charging
    charging_memo, charging_relevant = charging_chooser.memo, charging_chooser.relevant
    reservation_chooser = (
        tariff.choose_reservation_expired if expired else tariff.choose_reservation
    )
    total_energy = total_time = total_parking = total_reservation = _ZERO
    # Per dimension, summed piece by piece in session order: volume billed, amount excl. VAT,
    # amount incl. VAT (each piece's amount is volume x price, then x its VAT factor).
    e_bill = e_excl = e_incl = t_bill = t_excl = t_incl = _ZERO
    k_bill = k_excl = k_incl = r_bill = r_excl = r_incl = _ZERO

    order = 0
    energy_before = _ZERO
    for (
        p_start,
        p_end,
        p_energy,
        p_time,
        p_parking,
        p_reservation,
        is_reservation,
        power_low,
        power_high,
        current_low,
        current_high,
    ) in periods:
        span_us = p_end - p_start
        # (fraction of the period, instant, cumulative energy at that point if known exactly)
        points: list[tuple[Decimal, int, Decimal | None]]
        lo = bisect_right(cut_list, p_start)
        hi = bisect_left(cut_list, p_end)
        crosses = False
        e_end = energy_before + p_energy
        if kwh_points and p_energy:
            e_from, e_to = energy_before, e_end
            low, high = (e_from, e_to) if e_from < e_to else (e_to, e_from)
            if low < kwh_last and high > kwh_first:  # else no kWh point in (low, high)
                above = bisect_right(kwh_points, low)  # the first kWh point above low
                crosses = kwh_points[above] < high
        if (lo < hi or crosses) and span_us > 0:
            span = Decimal(span_us)
            points = [
                (Decimal(instant - p_start) / span, instant, None) for instant in cut_list[lo:hi]
            ]
            if crosses:
                for kwh in kwh_points:
                    if low < kwh < high:
                        fraction = (kwh - e_from) / p_energy
                        points.append((fraction, p_start + int(span * fraction), kwh))
            points.sort(key=_fraction)
            points.append((_ONE, p_end, e_end))
        else:
            points = [(_ONE, p_end, e_end)]

        period_mask = (
            power_mask(power_low, power_high, current_low, current_high)
            if with_power
            else all_elements
        )
        if is_reservation:
            origin, time_masks = reservation_origin, reservation_time_masks
        else:
            origin, time_masks = charging_origin, charging_time_masks
        interval = lo  # of the cut list, where p_start lies (see time_masks)
        prev_f, prev_t, prev_e = _ZERO, p_start, energy_before
        for fraction, instant, exact_energy in points:
            # The last point of a period is _ONE itself; the others lie strictly inside (0, 1).
            if fraction is not _ONE and fraction <= prev_f:
                if exact_energy is not None:
                    prev_e = exact_energy  # same point, exact cumulative energy known
                continue
            e_here = (
                exact_energy if exact_energy is not None else energy_before + p_energy * fraction
            )
            # fraction - 0 is fraction (exact, same exponent: a fraction is at most 1, so its
            # exponent is at most 0); only the first segment of a period starts at _ZERO.
            share = fraction if prev_f is _ZERO else fraction - prev_f

            # The elements whose restrictions hold at the start of the segment: those of the
            # period's power and current, of the time (see time_masks) and of the energy so far.
            if interval < 0:
                interval = bisect_right(cut_list, prev_t)
            if prev_t < last and memo_times:
                mask = time_masks[interval]
                if mask is None:
                    mask = time_masks[interval] = _time_mask(masks, tz, offset, prev_t, origin)
                mask &= period_mask
            else:
                mask = period_mask & _time_mask(masks, tz, offset, prev_t, origin)
            if mask_kwh:
                mask &= kwh_masks[bisect_right(mask_kwh, prev_e)]

            # FLAT: "Flat fee", billed once: the first FLAT component active in the session (and
            # once more for a reservation, which tariff_16's worked example bills on top of the
            # start fee).
            if is_reservation:
                seg_reservation = p_reservation * share
                total_reservation += seg_reservation
                choice = reservation_chooser.choose(mask)
                if seg_reservation > _ZERO:
                    comp = choice[1]
                    if comp is not None:
                        reserved_pieces.append((comp, prev_t, instant, seg_reservation))
                        excl = seg_reservation * comp.price
                        r_bill += seg_reservation
                        r_excl += excl
                        r_incl += excl * comp.vat_factor
                if reservation_flat is None and choice[3] is not None:
                    reservation_flat = (choice[3], prev_t, instant, _ONE)
                    flat_groups.append((_RESERVATION, [reservation_flat], None, True))
            else:
                seg_energy = e_here - prev_e
                seg_time = p_time * share if p_time else _ZERO
                total_energy += seg_energy
                if p_parking:
                    seg_parking = p_parking * share
                    total_time += seg_time + seg_parking
                    total_parking += seg_parking
                else:
                    seg_parking = _ZERO
                    total_time += seg_time
                choice = charging_memo.get(mask & charging_relevant) or charging_chooser.choose(
                    mask
                )
                # Energy fed back into the grid is not billed at the charging price.
                if seg_energy > _ZERO:
                    comp = choice[0]
                    if comp is not None:
                        energy_pieces.append((comp, prev_t, instant, seg_energy))
                        excl = seg_energy * comp.price
                        e_bill += seg_energy
                        e_excl += excl
                        e_incl += excl * comp.vat_factor
                if seg_time > _ZERO:
                    comp = choice[1]
                    if comp is not None:
                        time_pieces.append((comp, prev_t, instant, seg_time))
                        excl = seg_time * comp.price
                        t_bill += seg_time
                        t_excl += excl
                        t_incl += excl * comp.vat_factor
                        time_order = order
                order += 1  # within one period, parking is taken to follow charging
                if seg_parking > _ZERO:
                    comp = choice[2]
                    if comp is not None:
                        parking_pieces.append((comp, prev_t, instant, seg_parking))
                        excl = seg_parking * comp.price
                        k_bill += seg_parking
                        k_excl += excl
                        k_incl += excl * comp.vat_factor
                        parking_order = order
                if charging_flat is None and choice[3] is not None:
                    charging_flat = (choice[3], prev_t, instant, _ONE)
                    flat_groups.append((_CHARGING, [charging_flat], None, True))
            order += 1
            prev_f, prev_e = fraction, e_here
            if instant > prev_t:
                prev_t = instant
                interval = -1  # found when the next segment needs it
        energy_before = e_end

    e_bill, e_excl, e_incl, e_round = _round_step(
        energy_pieces, e_bill, e_excl, e_incl, _WH_PER_KWH
    )
    # "once for PARKING_TIME and TIME combined": the dimension of the last time-based component
    # that was active is rounded, the other one is not ("Note that the charging duration is not
    # rounded up, as it is followed by another time based period").
    t_round = k_round = None
    if parking_order > time_order:
        k_bill, k_excl, k_incl, k_round = _round_step(
            parking_pieces, k_bill, k_excl, k_incl, _S_PER_HOUR
        )
    else:
        t_bill, t_excl, t_incl, t_round = _round_step(
            time_pieces, t_bill, t_excl, t_incl, _S_PER_HOUR
        )
    r_bill, r_excl, r_incl, r_round = _round_step(
        reserved_pieces, r_bill, r_excl, r_incl, _S_PER_HOUR
    )

    if charging_flat is not None:
        flat = charging_flat[0]
        f_excl, f_incl = flat.price, flat.price * flat.vat_factor
    else:
        f_excl = f_incl = _ZERO
    if reservation_flat is not None:
        flat = reservation_flat[0]
        r_excl, r_incl = r_excl + flat.price, r_incl + flat.price * flat.vat_factor
    subtotal = _cost(
        f_excl + e_excl + t_excl + k_excl + r_excl,
        f_incl + e_incl + t_incl + k_incl + r_incl,
    )
    total, min_applied, max_applied = _clamp(subtotal, tariff)

    return _priced_session(
        tariff.tariff_id,  # tariff_id
        tariff.currency,  # currency
        start,  # start
        end,  # end
        total,  # total_cost
        _cost(f_excl, f_incl),  # total_fixed_cost
        # Segments split a period's energy by fractions; their sum can carry arithmetic dust
        # (4.378999...9 for 4.379 kWh). A µWh is far below any meter's resolution.
        total_energy.quantize(_MICRO_KWH),  # total_energy
        _cost(e_excl, e_incl),  # total_energy_cost
        total_time,  # total_time
        _cost(t_excl, t_incl),  # total_time_cost
        total_parking,  # total_parking_time
        _cost(k_excl, k_incl),  # total_parking_cost
        total_reservation,  # total_reservation_time
        _cost(r_excl, r_incl),  # total_reservation_cost
        e_bill,  # billed_energy
        t_bill,  # billed_time
        k_bill,  # billed_parking_time
        r_bill,  # billed_reservation_time
        min_applied,  # min_price_applied
        max_applied,  # max_price_applied
        _Lines(  # _lines
            [
                *flat_groups,
                (_CHARGING, energy_pieces, e_round, False),
                (_CHARGING, time_pieces, t_round, False),
                (_CHARGING, parking_pieces, k_round, False),
                (_RESERVATION, reserved_pieces, r_round, False),
            ]
        ),
    )


def _clamp(total: Cost, tariff: CompiledTariff) -> tuple[Cost, bool, bool]:
    """min_price / max_price: "they both apply" to excl. and incl. VAT independently.

    When a bound gives no ``incl_vat``, the amount incl. VAT moves in proportion to the amount
    excl. VAT (the session's own VAT rate is kept).
    """
    excl, incl = total.excl_vat, total.incl_vat
    min_applied = max_applied = False
    limit = tariff.min_price
    if limit is not None:
        bound = limit.excl_vat
        new_excl = excl if excl >= bound else bound  # max(): the first of equals
        if limit.incl_vat is not None:
            new_incl = incl if incl >= limit.incl_vat else limit.incl_vat
        elif new_excl != excl:
            new_incl = incl * new_excl / excl if excl != 0 else new_excl
        else:
            new_incl = incl
        min_applied = new_excl != excl or new_incl != incl
        excl, incl = new_excl, new_incl
    limit = tariff.max_price
    if limit is not None:
        bound = limit.excl_vat
        new_excl = excl if excl <= bound else bound  # min(): the first of equals
        if limit.incl_vat is not None:
            new_incl = incl if incl <= limit.incl_vat else limit.incl_vat
        elif new_excl != excl:
            new_incl = incl * new_excl / excl if excl != 0 else new_excl
        else:
            new_incl = incl
        max_applied = new_excl != excl or new_incl != incl
        excl, incl = new_excl, new_incl
    if not (min_applied or max_applied):
        return total, False, False
    return _cost(excl, incl), min_applied, max_applied


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
    # The engine's own context (setcontext of a prepared one costs less than localcontext()).
    saved = getcontext()
    setcontext(_CONTEXT)
    try:
        return _price(compiled, charging_periods, start, end, tz, reservation)
    finally:
        setcontext(saved)


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
