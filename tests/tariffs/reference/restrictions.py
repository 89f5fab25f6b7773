"""TariffRestrictions: parsing, evaluation and the instants where they can change.

mod_tariffs.asciidoc, "TariffRestrictions class": "These restrictions are not to be interpreted as
making the Tariff Element applicable or not applicable for the entire Charging Session" and "When
more than one restriction is set, they are to be treated as a logical AND". So a restriction is
evaluated at every instant of the session; the engine cuts the session into segments at every
instant where one of them may start or stop holding, and evaluates each segment at its start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "DAY_INDEX",
    "Reservation",
    "Restrictions",
    "SegmentState",
    "local_boundaries",
    "parse_date",
    "parse_time",
]

_TIME_RE = re.compile(r"^([0-1][0-9]|2[0-3]):([0-5][0-9])$")
_DATE_RE = re.compile(r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")

DAY_INDEX = {
    "MONDAY": 0,
    "TUESDAY": 1,
    "WEDNESDAY": 2,
    "THURSDAY": 3,
    "FRIDAY": 4,
    "SATURDAY": 5,
    "SUNDAY": 6,
}

_DAY_SECONDS = 86400


class Reservation(StrEnum):
    """ReservationRestrictionType (mod_tariffs.asciidoc)."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


def parse_time(value: str) -> int:
    """``"13:30"`` -> seconds since local midnight. Raises ValueError on anything else."""
    match = _TIME_RE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a time of day such as 13:30 (24h, leading zeros)")
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60


def parse_date(value: str) -> date:
    """``"2015-12-24"`` -> date. Raises ValueError on anything else."""
    if not _DATE_RE.match(value):
        raise ValueError(f"{value!r} is not a date such as 2015-12-24")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date ({exc})") from None


@dataclass(frozen=True, slots=True)
class SegmentState:
    """What the restrictions look at, for one segment of the session (evaluated at its start)."""

    local_seconds: float  # seconds since local midnight, at the start of the segment
    local_date: date
    weekday: int  # 0 = Monday
    energy_kwh: Decimal  # energy consumed in the session before the segment starts
    duration_s: Decimal  # seconds elapsed since the session started
    power_low: Decimal | None  # lowest power known for the segment (kW)
    power_high: Decimal | None  # highest power known for the segment (kW)
    current_low: Decimal | None  # lowest current known for the segment (A, sum of phases)
    current_high: Decimal | None


@dataclass(frozen=True, slots=True)
class Restrictions:
    """Parsed TariffRestrictions. Times are seconds since local midnight."""

    start_time: int | None = None
    end_time: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    days: frozenset[int] | None = None
    reservation: Reservation | None = None

    @property
    def uses_local_time(self) -> bool:
        return (
            self.start_time is not None
            or self.end_time is not None
            or self.start_date is not None
            or self.end_date is not None
            or self.days is not None
        )

    def time_points(self) -> set[int]:
        """Times of day (seconds since midnight) where this restriction may change."""
        points = {0}  # dates and days of the week change at local midnight
        if self.start_time is not None:
            points.add(self.start_time)
        if self.end_time is not None:
            points.add(self.end_time)
        return points

    def kwh_points(self) -> set[Decimal]:
        return {v for v in (self.min_kwh, self.max_kwh) if v is not None}

    def duration_points(self) -> set[int]:
        return {v for v in (self.min_duration, self.max_duration) if v is not None}

    def holds(self, state: SegmentState) -> bool:
        """All restrictions hold (logical AND). ``reservation`` is handled by the engine."""
        if (self.start_time is not None or self.end_time is not None) and not self._in_window(
            state.local_seconds
        ):
            return False
        # start_date: "valid from this day (inclusive)"; end_date: "valid until this day
        # (exclusive)". Both in local time.
        if self.start_date is not None and state.local_date < self.start_date:
            return False
        if self.end_date is not None and state.local_date >= self.end_date:
            return False
        if self.days is not None and state.weekday not in self.days:
            return False
        # min_kwh: "valid from this amount of energy (inclusive) being used";
        # max_kwh: "valid until this amount of energy (exclusive) being used".
        if self.min_kwh is not None and state.energy_kwh < self.min_kwh:
            return False
        if self.max_kwh is not None and state.energy_kwh >= self.max_kwh:
            return False
        # min_duration inclusive, max_duration exclusive, seconds since the session started.
        if self.min_duration is not None and state.duration_s < self.min_duration:
            return False
        if self.max_duration is not None and state.duration_s >= self.max_duration:
            return False
        # min_power/min_current: active "when the EV is charging with more than, or equal to" the
        # value; max_power/max_current: "with less than" the value. A ChargingPeriod carries
        # MIN_/MAX_ values, so the lowest value known must reach the minimum and the highest
        # value known must stay under the maximum. Unknown values never satisfy a restriction.
        if self.min_power is not None and (
            state.power_low is None or state.power_low < self.min_power
        ):
            return False
        if self.max_power is not None and (
            state.power_high is None or state.power_high >= self.max_power
        ):
            return False
        if self.min_current is not None and (
            state.current_low is None or state.current_low < self.min_current
        ):
            return False
        return not (
            self.max_current is not None
            and (state.current_high is None or state.current_high >= self.max_current)
        )

    def _in_window(self, seconds: float) -> bool:
        start = self.start_time if self.start_time is not None else 0
        # end_time: "To stop at end of the day use: 00:00", so 00:00 as an end is 24:00.
        end = self.end_time if self.end_time else _DAY_SECONDS
        if start < end:
            return start <= seconds < end
        if start > end:
            # "If end_time < start_time then the period wraps around to the next day."
            return seconds >= start or seconds < end
        return True  # start_time == end_time: the whole day


def _offset_seconds(tz: tzinfo, instant: datetime) -> int:
    offset = instant.astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _offset_changes(tz: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """Instants in (start, end) where the zone's UTC offset changes (DST), found by bisection."""
    found: list[datetime] = []
    step = timedelta(hours=12)  # no zone changes its offset twice within 12 hours
    lo = start
    while lo < end:
        hi = min(lo + step, end)
        off_lo = _offset_seconds(tz, lo)
        if _offset_seconds(tz, hi) != off_lo:
            a, b = lo, hi
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                mid = mid.replace(microsecond=0) if mid.microsecond else mid
                if mid <= a:
                    mid = a + timedelta(seconds=1)
                if _offset_seconds(tz, mid) == off_lo:
                    a = mid
                else:
                    b = mid
            if start < b < end:
                found.append(b)
        lo = hi
    return found


def local_boundaries(
    tz: tzinfo, time_points: frozenset[int], start: datetime, end: datetime, *, fixed: bool
) -> list[datetime]:
    """UTC instants in (start, end) at which the local time of day is one of ``time_points``.

    Both readings of an ambiguous local time (DST fall-back) are returned, and the instants of
    offset changes themselves, so a time of day that does not exist that day (spring-forward)
    still cuts the session where the local clock jumps over it.
    """
    if end <= start or not time_points:
        return []
    local_start = start.astimezone(tz)
    local_end = end.astimezone(tz)
    result: list[datetime] = []
    day = local_start.date() - timedelta(days=1)
    last_day = local_end.date() + timedelta(days=1)
    folds = (0,) if fixed else (0, 1)
    while day <= last_day:
        for seconds in time_points:
            naive = datetime.combine(day, time(seconds // 3600, (seconds % 3600) // 60))
            for fold in folds:
                instant = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
                if start < instant < end:
                    result.append(instant)
        day += timedelta(days=1)
    if not fixed:
        result.extend(_offset_changes(tz, start, end))
    return result
