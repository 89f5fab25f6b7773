"""Which of a connector's tariffs applies to a session (mod_tariffs, TariffType).

A Connector lists the ``tariff_ids`` of its "currently valid charging tariffs"; the Tariff's
``type`` says for whom each one is meant:

* ``AD_HOC_PAYMENT``: "valid when ad-hoc payment is used at the Charge Point" - the hub's ad hoc
  payers, whose single-use tokens are of TokenType ``AD_HOC_USER``;
* ``PROFILE_CHEAP`` / ``PROFILE_FAST`` / ``PROFILE_GREEN``: "valid when Charging Preference: CHEAP
  / FAST / GREEN is set for the session";
* ``REGULAR``: "valid when using an RFID, without any Charging Preference, or when Charging
  Preference: REGULAR is set for the session";
* no type: "When omitted, this tariff is valid for all sessions."

:func:`select_tariff` is the one place that makes this choice; the pay page, the OCPP bridge that
prices the own CPO's Sessions and CDRs, the capture and the receipt all call it. It is pure: the
caller fetches the tariffs (in ``tariff_ids`` order) and passes them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from app.ocpi.schemas.common import parse_datetime
from app.ocpi.schemas.tariffs import Tariff, TariffType

__all__ = ["AD_HOC_TOKEN_TYPE", "select_tariff", "tariff_type_for", "tariff_valid_at"]

T = TypeVar("T", bound=Tariff | Mapping[str, Any])

# TokenType of the single-use tokens an eMSP issues for one ad hoc payment (mod_tokens).
AD_HOC_TOKEN_TYPE = "AD_HOC_USER"

_PROFILE_TARIFFS = {
    "CHEAP": TariffType.PROFILE_CHEAP,
    "FAST": TariffType.PROFILE_FAST,
    "GREEN": TariffType.PROFILE_GREEN,
    "REGULAR": TariffType.REGULAR,
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value)).upper() or None


def tariff_type_for(token_type: str | None, profile_type: str | None = None) -> TariffType:
    """The TariffType meant for a session of this token (TokenType) and charging-preferences
    profile (ProfileType), when one is known."""
    if _text(token_type) == AD_HOC_TOKEN_TYPE:
        return TariffType.AD_HOC_PAYMENT
    return _PROFILE_TARIFFS.get(_text(profile_type) or "", TariffType.REGULAR)


def _field(tariff: Tariff | Mapping[str, Any], name: str) -> Any:
    if isinstance(tariff, Tariff):
        return getattr(tariff, name)
    return tariff.get(name)


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def tariff_valid_at(tariff: Tariff | Mapping[str, Any], at: datetime) -> bool:
    """Inside the tariff's ``start_date_time`` .. ``end_date_time`` (either may be absent).

    Tariff object, NOTE on ``start_date_time`` and ``end_date_time``: a new tariff may be listed
    before it becomes active, an old one until it is replaced.
    """
    start = _moment(_field(tariff, "start_date_time"))
    end = _moment(_field(tariff, "end_date_time"))
    return (start is None or start <= at) and (end is None or at < end)


def select_tariff(
    tariffs: Sequence[T],
    token_type: str | None,
    profile_type: str | None = None,
    at: datetime | None = None,
) -> T | None:
    """The tariff that applies to a session, of a connector's tariffs in ``tariff_ids`` order.

    ``tariffs`` are Tariff objects or their JSON (dicts); the result is one of them, or None when
    there are none. In order of preference:

    1. the first tariff of the type meant for the session (:func:`tariff_type_for`:
       ``AD_HOC_PAYMENT`` for an ``AD_HOC_USER`` token, ``PROFILE_*`` for a charging-preferences
       profile, ``REGULAR`` otherwise);
    2. the first tariff without a type ("valid for all sessions");
    3. the first ``REGULAR`` tariff;
    4. the first tariff.

    With ``at`` (the session's start), tariffs outside their ``start_date_time`` ..
    ``end_date_time`` are passed over, unless no tariff is valid then at all.
    """
    candidates = list(tariffs)
    if at is not None:
        current = [t for t in candidates if tariff_valid_at(t, at)]
        candidates = current or candidates
    if not candidates:
        return None
    wanted = tariff_type_for(token_type, profile_type)
    for preferred in (wanted.value, None, TariffType.REGULAR.value):
        for tariff in candidates:
            if _text(_field(tariff, "type")) == preferred:
                return tariff
    return candidates[0]
