"""The engine's view of its inputs: a compiled Tariff and normalised charging periods.

Compiling checks what the pydantic models cannot (dates that do not exist, negative prices...)
and raises :class:`TariffError` / :class:`SessionDataError` naming the offending field, so the CLI
and the API can say exactly what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

from app.ocpi.schemas.cdrs import CdrDimension, CdrDimensionType, ChargingPeriod
from app.ocpi.schemas.common import Price
from app.ocpi.schemas.tariffs import TariffDimensionType, TariffElement, TariffRestrictions
from app.tariffs.masks import Masks, build_masks
from app.tariffs.restrictions import DAY_INDEX, Reservation, Restrictions, parse_date, parse_time

__all__ = [
    "CHOICE_DIMENSIONS",
    "Chooser",
    "CompiledTariff",
    "Component",
    "Element",
    "Limit",
    "Period",
    "PricingInputError",
    "SessionDataError",
    "TariffError",
    "TariffTerms",
    "compile_tariff",
    "normalise_periods",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_US_PER_HOUR = Decimal(3_600_000_000)
_ONE_SECOND_H = Decimal(1) / Decimal(3600)

Dim = TariffDimensionType


class PricingInputError(ValueError):
    """Invalid input to the engine; ``field`` is the JSON path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TariffError(PricingInputError):
    """The Tariff cannot be priced."""


class SessionDataError(PricingInputError):
    """The charging periods / session times cannot be priced."""


class TariffTerms(Protocol):
    """What pricing reads of a Tariff: a full OCPI Tariff, or only its prices (``voltroam tariff
    price`` takes a tariff without country_code, party_id or last_updated)."""

    @property
    def id(self) -> str: ...

    @property
    def currency(self) -> str: ...

    @property
    def elements(self) -> Sequence[TariffElement]: ...

    @property
    def min_price(self) -> Price | None: ...

    @property
    def max_price(self) -> Price | None: ...


@dataclass(frozen=True, slots=True)
class Component:
    dimension: TariffDimensionType
    price: Decimal
    vat: Decimal | None  # None: "no VAT is applicable" (not the same as 0 %)
    step_size: int
    element_index: int
    vat_factor: Decimal  # 1 + vat / 100, or 1 when no VAT is applicable


@dataclass(frozen=True, slots=True)
class Element:
    index: int
    components: dict[TariffDimensionType, Component]
    restrictions: Restrictions | None


@dataclass(frozen=True, slots=True)
class Limit:
    """min_price / max_price."""

    excl_vat: Decimal
    incl_vat: Decimal | None


# Lookup table: for each dimension, the elements that price it, in the order to try them.
Table = dict[TariffDimensionType, tuple[tuple[Element, Component], ...]]

# The dimensions a Chooser answers for, in the order of its answers.
CHOICE_DIMENSIONS = (Dim.ENERGY, Dim.TIME, Dim.PARKING_TIME, Dim.FLAT)
_MEMO_LIMIT = 4096


class Chooser:
    """A Table as a function of the mask of the elements whose restrictions hold.

    Tariff Object: "the first Tariff Element with a Price Component for that dimension in the list
    with matching Tariff Restrictions will be used". :meth:`choose` answers for ENERGY, TIME,
    PARKING_TIME and FLAT at once and remembers the answer per mask (a tariff has few distinct
    masks in practice; at most ``_MEMO_LIMIT`` are kept).
    """

    __slots__ = ("_rows", "memo", "relevant")

    def __init__(self, table: Table) -> None:
        self._rows = tuple(
            tuple((1 << element.index, component) for element, component in table.get(dim, ()))
            for dim in CHOICE_DIMENSIONS
        )
        self.relevant = sum({bit for row in self._rows for bit, _ in row})
        # Answers by mask & relevant: look here first (the engine does), then call choose().
        self.memo: dict[int, tuple[Component | None, ...]] = {}

    def choose(self, mask: int) -> tuple[Component | None, ...]:
        """(ENERGY, TIME, PARKING_TIME, FLAT) components that apply, None where none does."""
        mask &= self.relevant
        answer = self.memo.get(mask)
        if answer is None:
            answer = tuple(
                next((component for bit, component in row if mask & bit), None)
                for row in self._rows
            )
            if len(self.memo) < _MEMO_LIMIT:
                self.memo[mask] = answer
        return answer


@dataclass(frozen=True, slots=True)
class CompiledTariff:
    tariff_id: str
    currency: str
    elements: tuple[Element, ...]
    min_price: Limit | None
    max_price: Limit | None
    charging: Table  # elements without a reservation restriction
    reservation: Table  # RESERVATION elements
    reservation_expired: Table  # RESERVATION_EXPIRES elements, then RESERVATION elements
    time_points: frozenset[int]  # seconds since local midnight where restrictions may change
    uses_local_time: bool
    kwh_points: tuple[Decimal, ...]
    duration_points: tuple[int, ...]
    # The same, as the engine uses them: restrictions as bitmasks, tables as choosers.
    masks: Masks = field(compare=False, repr=False)
    choose_charging: Chooser = field(compare=False, repr=False)
    choose_reservation: Chooser = field(compare=False, repr=False)
    choose_reservation_expired: Chooser = field(compare=False, repr=False)
    time_points_us: tuple[int, ...] = field(compare=False, repr=False)


# A ChargingPeriod with its end and the volumes the engine prices: (start, end) in microseconds
# since 1970-01-01 UTC, energy (kWh), charging time, PARKING_TIME and RESERVATION_TIME (hours),
# whether it is reservation time, then power low / high (kW) and current low / high (A), None
# where unknown.
Period = tuple[
    int,
    int,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    bool,
    Decimal | None,
    Decimal | None,
    Decimal | None,
    Decimal | None,
]


def _limit(price: Price | None) -> Limit | None:
    if price is None:
        return None
    return Limit(price.excl_vat, price.incl_vat)


def _compile_restrictions(r: TariffRestrictions, path: str) -> Restrictions:
    def time_of(name: str, value: str | None) -> int | None:
        if value is None:
            return None
        try:
            return parse_time(value)
        except ValueError as exc:
            raise TariffError(f"{path}.{name}", str(exc)) from None

    def date_of(name: str, value: str | None) -> date | None:
        if value is None:
            return None
        try:
            return parse_date(value)
        except ValueError as exc:
            raise TariffError(f"{path}.{name}", str(exc)) from None

    for name in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
        value = getattr(r, name)
        if value is not None and value < 0:
            raise TariffError(f"{path}.{name}", "must not be negative")
    start_date = date_of("start_date", r.start_date)
    end_date = date_of("end_date", r.end_date)
    return Restrictions(
        start_time=time_of("start_time", r.start_time),
        end_time=time_of("end_time", r.end_time),
        start_date=start_date,
        end_date=end_date,
        min_kwh=r.min_kwh,
        max_kwh=r.max_kwh,
        min_current=r.min_current,
        max_current=r.max_current,
        min_power=r.min_power,
        max_power=r.max_power,
        min_duration=r.min_duration,
        max_duration=r.max_duration,
        # An empty day_of_week list restricts nothing.
        days=frozenset(DAY_INDEX[d.value] for d in r.day_of_week) if r.day_of_week else None,
        reservation=Reservation(r.reservation.value) if r.reservation else None,
    )


def compile_tariff(tariff: TariffTerms) -> CompiledTariff:
    """Check a Tariff and prepare it for pricing (do this once per tariff, price many times)."""
    elements: list[Element] = []
    for i, element in enumerate(tariff.elements):
        path = f"elements[{i}]"
        components: dict[TariffDimensionType, Component] = {}
        for j, pc in enumerate(element.price_components):
            cpath = f"{path}.price_components[{j}]"
            if pc.price < 0:
                raise TariffError(f"{cpath}.price", "must not be negative")
            if pc.vat is not None and pc.vat < 0:
                raise TariffError(f"{cpath}.vat", "must not be negative")
            # "Only one Price Component per dimension can be active at any point in time": a
            # second component of the same dimension in one element can never be used.
            components.setdefault(
                pc.type,
                Component(
                    dimension=pc.type,
                    price=pc.price,
                    vat=pc.vat,
                    step_size=pc.step_size,
                    element_index=i,
                    vat_factor=_ONE + pc.vat / _HUNDRED if pc.vat is not None else _ONE,
                ),
            )
        restrictions = (
            _compile_restrictions(element.restrictions, f"{path}.restrictions")
            if element.restrictions is not None
            else None
        )
        elements.append(Element(i, components, restrictions))

    for name in ("min_price", "max_price"):
        limit: Price | None = getattr(tariff, name)
        if limit is not None and (
            limit.excl_vat < 0 or (limit.incl_vat is not None and limit.incl_vat < 0)
        ):
            raise TariffError(name, "must not be negative")

    def table(selected: Sequence[Element], dims: Sequence[TariffDimensionType]) -> Table:
        return {
            dim: tuple((el, el.components[dim]) for el in selected if dim in el.components)
            for dim in dims
        }

    def kind(el: Element) -> Reservation | None:
        return el.restrictions.reservation if el.restrictions else None

    charging = [el for el in elements if kind(el) is None]
    reserved = [el for el in elements if kind(el) is Reservation.RESERVATION]
    expired = [el for el in elements if kind(el) is Reservation.RESERVATION_EXPIRES]
    # "A reservation can only have: FLAT and TIME TariffDimensions, where TIME is for the duration
    # of the reservation." NOTE under ReservationRestrictionType: for an expired reservation the
    # RESERVATION_EXPIRES element wins over the RESERVATION element, wherever they are listed.
    reservation_dims = (Dim.FLAT, Dim.TIME)
    all_restrictions = [el.restrictions for el in elements if el.restrictions is not None]
    time_points: set[int] = set()
    kwh_points: set[Decimal] = set()
    duration_points: set[int] = set()
    for r in all_restrictions:
        if r.uses_local_time:
            time_points |= r.time_points()
        kwh_points |= r.kwh_points()
        duration_points |= r.duration_points()
    charging_table = table(charging, tuple(Dim))
    reservation_table = table(reserved, reservation_dims)
    expired_table = table(expired + reserved, reservation_dims)
    return CompiledTariff(
        tariff_id=tariff.id,
        currency=tariff.currency,
        elements=tuple(elements),
        min_price=_limit(tariff.min_price),
        max_price=_limit(tariff.max_price),
        charging=charging_table,
        reservation=reservation_table,
        reservation_expired=expired_table,
        time_points=frozenset(time_points),
        uses_local_time=any(r.uses_local_time for r in all_restrictions),
        kwh_points=tuple(sorted(kwh_points)),
        duration_points=tuple(sorted(duration_points)),
        masks=build_masks([el.restrictions for el in elements]),
        choose_charging=Chooser(charging_table),
        choose_reservation=Chooser(reservation_table),
        choose_reservation_expired=Chooser(expired_table),
        time_points_us=tuple(sorted(t * 1_000_000 for t in time_points)),
    )


def _hours(microseconds: int) -> Decimal:
    return Decimal(microseconds) / _US_PER_HOUR


_D = CdrDimensionType
_ENERGY, _TIME, _PARKING, _RESERVATION = _D.ENERGY, _D.TIME, _D.PARKING_TIME, _D.RESERVATION_TIME
_POWER, _MIN_POWER, _MAX_POWER = _D.POWER, _D.MIN_POWER, _D.MAX_POWER
_CURRENT, _MIN_CURRENT, _MAX_CURRENT = _D.CURRENT, _D.MIN_CURRENT, _D.MAX_CURRENT


def normalise_periods(
    charging_periods: Sequence[ChargingPeriod],
    starts: Sequence[int],
    start: int,
    end: int,
    with_power: bool = True,
) -> list[Period]:
    """Turn ChargingPeriods into :data:`Period` tuples with an end and the priced volumes.

    ``starts`` are the periods' start_date_time, ``start`` and ``end`` the session's, all in
    microseconds since 1970-01-01 UTC. Power and current are only worked out ``with_power``
    (without, they are None: the tariff has no power or current restriction to read them).

    * "A period ends when the next period starts. The last period ends when the session ends."
    * Charging time is the ``TIME`` dimension; when a period has none, it is the period's duration
      minus its ``PARKING_TIME`` ("total_charging_time = total_time - total_parking_time").
    * A period with a ``RESERVATION_TIME`` dimension is reservation time, not charging time.
    * Power for max_power/min_power: MAX_POWER / MIN_POWER, else the (session only) POWER, else the
      average over the period (energy / charging time). Current: MAX_CURRENT / MIN_CURRENT, else
      CURRENT; a period without charging and without energy draws no current and no power.

    This runs once per period of every CDR priced: each period's dimensions are read once into a
    dict (a loop of stores costs less than a comprehension or ``dict(map(...))`` in Python 3.11),
    and the volumes are taken out of it with one ``get`` each.
    """
    if not charging_periods:
        if end < start:
            raise SessionDataError("end_date_time", "before start_date_time")
        # No meter data yet (a live session that just started): the whole time is charging time.
        return [
            (start, end, _ZERO, _hours(end - start), _ZERO, _ZERO, False, None, None, None, None)
        ]
    periods: list[Period] = []
    append = periods.append
    count = len(charging_periods)
    zero, one_second = _ZERO, _ONE_SECOND_H
    energy_type, time_type, parking_type, reservation_type = _ENERGY, _TIME, _PARKING, _RESERVATION
    i = 0
    p_start = starts[0]
    for cp in charging_periods:
        # "A period ends when the next period starts"
        following = i + 1
        p_end = starts[following] if following < count else end
        if p_end < p_start:
            if following < count:
                raise SessionDataError(
                    f"charging_periods[{following}].start_date_time",
                    "earlier than the start of the previous charging period",
                )
            raise SessionDataError("end_date_time", "before the start of the last charging period")
        dimensions = cp.dimensions
        values: dict[CdrDimensionType, Decimal] = {}
        for dim in dimensions:
            values[dim.type] = dim.volume
        get = values.get
        time = get(time_type)
        parking = get(parking_type, zero)
        reservation = get(reservation_type)
        if (
            len(values) < len(dimensions)
            or (time is not None and time < zero)
            or parking < zero
            or (reservation is not None and reservation < zero)
        ):
            raise _dimension_error(i, dimensions)
        energy = get(energy_type, zero)
        is_reservation = reservation is not None
        if reservation is None:
            reservation = zero
        if time is None:
            if is_reservation:
                time = zero
            else:
                time = _hours(p_end - p_start) - parking
                # PARKING_TIME is a number with 4 decimals (0.36 s): a remainder under a second is
                # its rounding, not charging time.
                if time < one_second:
                    time = zero
        if not with_power:
            power_low = power_high = current_low = current_high = None
        else:
            # Whether the period is charging is only needed where a value is missing.
            power_low = get(_MIN_POWER)
            power_high = get(_MAX_POWER)
            if power_low is None or power_high is None:
                power = get(_POWER)
                if power is None:
                    if not (time > zero or energy != zero):  # not charging
                        power = zero
                    elif time > zero:
                        power = energy / time  # the average over the period
                    else:
                        duration = _hours(p_end - p_start)
                        power = energy / duration if duration > zero else None
                if power_low is None:
                    power_low = power
                if power_high is None:
                    power_high = power
            current_low = get(_MIN_CURRENT)
            current_high = get(_MAX_CURRENT)
            if current_low is None or current_high is None:
                current = get(_CURRENT, None if time > zero or energy != zero else zero)
                if current_low is None:
                    current_low = current
                if current_high is None:
                    current_high = current
        append(
            (
                p_start,
                p_end,
                energy,
                time,
                parking,
                reservation,
                is_reservation,
                power_low,
                power_high,
                current_low,
                current_high,
            )
        )
        i = following
        p_start = p_end
    return periods


def _dimension_error(i: int, dimensions: Sequence[CdrDimension]) -> SessionDataError:
    """The error for the first dimension of period ``i`` given twice, or negative where it must
    not be (the caller has seen that there is one)."""
    seen: set[CdrDimensionType] = set()
    for j, dim in enumerate(dimensions):
        if dim.type in seen:
            return SessionDataError(
                f"charging_periods[{i}].dimensions[{j}].type",
                f"{dim.type.value} given twice in one period",
            )
        if dim.volume < 0 and dim.type in _NON_NEGATIVE:
            return SessionDataError(
                f"charging_periods[{i}].dimensions[{j}].volume", "must not be negative"
            )
        seen.add(dim.type)
    return SessionDataError(f"charging_periods[{i}].dimensions", "invalid")


_NON_NEGATIVE = frozenset(
    {
        CdrDimensionType.TIME,
        CdrDimensionType.PARKING_TIME,
        CdrDimensionType.RESERVATION_TIME,
    }
)
