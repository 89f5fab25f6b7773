"""Restrictions as bitmasks: which Tariff Elements may apply, worked out once per tariff.

Bit ``i`` stands for element ``i``. Every restriction looks at one quantity: the local time of
day, the local day, the energy used so far, the time since the session started, or the power and
current of the charging period. Between the values where a restriction starts or stops holding
(the segment boundaries the engine cuts at) the answer cannot change, so for each quantity the
tariff's boundaries are sorted once and the mask of the elements that hold is stored per interval.
The elements that hold at an instant are the AND of one mask per quantity ("When more than one
restriction is set, they are to be treated as a logical AND"), found with a binary search each.

Time-based quantities are integers: microseconds since local midnight, days since 1970-01-01,
microseconds since the session started.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from app.tariffs.restrictions import Restrictions

__all__ = ["DAY_US", "Masks", "build_masks", "day_number"]

DAY_US = 86_400_000_000
_DAY_SECONDS = 86_400
_US = 1_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_number(day: date) -> int:
    """Days since 1970-01-01 (a Thursday)."""
    return day.toordinal() - _EPOCH_ORDINAL


@dataclass(frozen=True, slots=True)
class Masks:
    all: int  # every element
    # Power and current, evaluated once per charging period.
    power_free: int  # elements without a power or current restriction
    # (bit, min_power, max_power, min_current, max_current) of the others
    power_checks: tuple[
        tuple[int, Decimal | None, Decimal | None, Decimal | None, Decimal | None], ...
    ]
    # Local time of day: interval i is [tod_points[i], tod_points[i + 1]), tod_points[0] == 0.
    tod_points: tuple[int, ...]
    tod_masks: tuple[int, ...]
    # Local day: day_of_week, start_date, end_date.
    day_checks: tuple[tuple[int, Restrictions], ...]
    # Energy used so far (kWh): interval i is [kwh_points[i - 1], kwh_points[i]).
    kwh_points: tuple[Decimal, ...]
    kwh_masks: tuple[int, ...]
    # Time since the session started (µs): interval i is [duration_points[i - 1], ...[i]).
    duration_points: tuple[int, ...]
    duration_masks: tuple[int, ...]
    _days: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

    def day_mask(self, day: int) -> int:
        """Elements whose day and date restrictions hold on local day ``day`` (day_number)."""
        mask = self._days.get(day)
        if mask is None:
            mask = self.all
            as_date = date.fromordinal(day + _EPOCH_ORDINAL)
            for bit, r in self.day_checks:
                if not r.on_day(as_date):
                    mask &= ~bit
            if len(self._days) < 4096:
                self._days[day] = mask
        return mask

    def power_mask(
        self,
        power_low: Decimal | None,
        power_high: Decimal | None,
        current_low: Decimal | None,
        current_high: Decimal | None,
    ) -> int:
        """Elements whose power and current restrictions hold for a charging period.

        min_power/min_current: active "when the EV is charging with more than, or equal to" the
        value; max_power/max_current: "with less than" the value. A ChargingPeriod carries MIN_/MAX_
        values, so the lowest value known must reach the minimum and the highest value known must
        stay under the maximum. Unknown values never satisfy a restriction.
        """
        mask = self.power_free
        for bit, min_power, max_power, min_current, max_current in self.power_checks:
            if min_power is not None and (power_low is None or power_low < min_power):
                continue
            if max_power is not None and (power_high is None or power_high >= max_power):
                continue
            if min_current is not None and (current_low is None or current_low < min_current):
                continue
            if max_current is not None and (current_high is None or current_high >= max_current):
                continue
            mask |= bit
        return mask


def _interval_masks(
    count: int, bounds: Sequence[tuple[int, int | None, int | None]], all_mask: int
) -> tuple[int, ...]:
    """Masks for ``count + 1`` intervals between sorted points, from (bit, index of the minimum,
    index of the maximum): a minimum is inclusive, so it holds on the intervals after its point; a
    maximum is exclusive, so it holds on the intervals up to its point."""
    masks = []
    for i in range(count + 1):
        mask = all_mask
        for bit, low, high in bounds:
            if (low is not None and low >= i) or (high is not None and high < i):
                mask &= ~bit
        masks.append(mask)
    return tuple(masks)


def build_masks(restrictions: Sequence[Restrictions | None]) -> Masks:
    """The masks of a tariff whose element ``i`` has ``restrictions[i]``."""
    all_mask = (1 << len(restrictions)) - 1
    present = [(1 << i, r) for i, r in enumerate(restrictions) if r is not None]

    power_checks = tuple(
        (bit, r.min_power, r.max_power, r.min_current, r.max_current)
        for bit, r in present
        if r.min_power is not None
        or r.max_power is not None
        or r.min_current is not None
        or r.max_current is not None
    )
    power_free = all_mask & ~sum(check[0] for check in power_checks)

    windows = [(bit, r) for bit, r in present if r.start_time is not None or r.end_time is not None]
    tod_seconds = sorted(
        {0} | {t for _, r in windows for t in (r.start_time, r.end_time) if t is not None}
    )
    # A window holds on an interval between two of these points exactly when it holds at the
    # interval's start (the window's own ends are among the points).
    tod_masks = [all_mask] * len(tod_seconds)
    for bit, r in windows:
        start = r.start_time if r.start_time is not None else 0
        # end_time: "To stop at end of the day use: 00:00", so 00:00 as an end is 24:00.
        end = r.end_time if r.end_time else _DAY_SECONDS
        for i, seconds in enumerate(tod_seconds):
            if start < end:
                holds = start <= seconds < end
            elif start > end:
                # "If end_time < start_time then the period wraps around to the next day."
                holds = seconds >= start or seconds < end
            else:
                holds = True  # start_time == end_time: the whole day
            if not holds:
                tod_masks[i] &= ~bit

    day_checks = tuple(
        (bit, r)
        for bit, r in present
        if r.days is not None or r.start_date is not None or r.end_date is not None
    )

    # min_kwh: "valid from this amount of energy (inclusive) being used"; max_kwh: "valid until
    # this amount of energy (exclusive) being used".
    kwh_points = sorted({v for _, r in present for v in r.kwh_points()})
    kwh_index = {v: i for i, v in enumerate(kwh_points)}
    kwh_bounds = [
        (
            bit,
            kwh_index[r.min_kwh] if r.min_kwh is not None else None,
            kwh_index[r.max_kwh] if r.max_kwh is not None else None,
        )
        for bit, r in present
        if r.min_kwh is not None or r.max_kwh is not None
    ]
    # min_duration inclusive, max_duration exclusive, seconds since the session started.
    duration_points = sorted({v for _, r in present for v in r.duration_points()})
    duration_index = {v: i for i, v in enumerate(duration_points)}
    duration_bounds = [
        (
            bit,
            duration_index[r.min_duration] if r.min_duration is not None else None,
            duration_index[r.max_duration] if r.max_duration is not None else None,
        )
        for bit, r in present
        if r.min_duration is not None or r.max_duration is not None
    ]
    return Masks(
        all=all_mask,
        power_free=power_free,
        power_checks=power_checks,
        tod_points=tuple(s * _US for s in tod_seconds) if windows else (),
        tod_masks=tuple(tod_masks) if windows else (),
        day_checks=day_checks,
        kwh_points=tuple(kwh_points),
        kwh_masks=_interval_masks(len(kwh_points), kwh_bounds, all_mask),
        duration_points=tuple(d * _US for d in duration_points),
        duration_masks=_interval_masks(len(duration_points), duration_bounds, all_mask),
    )
