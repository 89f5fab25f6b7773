"""``voltroam tariff``: price a CDR or a Session with a tariff from the command line.

``voltroam tariff price TARIFF.json CDR.json [--time-zone Europe/Amsterdam]`` prints the CDR as
JSON with every total recomputed from its charging periods, start and end (totals in the file are
ignored); given a Session, it prints the Session with its ``total_cost`` recomputed.

Only what pricing needs is required: of the tariff its ``currency`` and ``elements`` (and
``min_price`` / ``max_price`` when given); of the CDR or Session its ``start_date_time``, end,
``currency`` and ``charging_periods``. Everything else (``country_code``, ``party_id``,
``last_updated``, ``cdr_location``, totals, vendor fields ...) may be absent or incomplete and is
printed back as it was given.

The end of a CDR is its ``end_date_time``. The end of a Session is its ``end_date_time`` when it
has one (a finished session); a running Session has none, and is priced until its
``last_updated``, the moment its figures describe ("The last period ends when the session ends").

A document is a Session when it has ``kwh`` or ``status`` (fields a CDR does not have) or when
``--session`` says so. Invalid input: a message naming the field on stderr and exit code 2.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError

from app.ocpi.schemas.cdrs import ChargingPeriod
from app.ocpi.schemas.common import DateTime, Number, OcpiModel, Price
from app.ocpi.schemas.tariffs import TariffElement
from app.tariffs.engine import PricedSession, cdr_totals, price_session, resolve_time_zone
from app.tariffs.model import SessionDataError, TariffError, compile_tariff
from app.tariffs.restrictions import Reservation

__all__ = ["tariff_app"]

EXIT_INVALID = 2

M = TypeVar("M", bound=BaseModel)

_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def _iso_currency(value: str) -> str:
    if not _CURRENCY.match(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code such as EUR")
    return value


Currency = Annotated[str, AfterValidator(_iso_currency)]


class TariffPrices(OcpiModel):
    """The parts of a Tariff that pricing reads (an :class:`app.tariffs.model.TariffTerms`)."""

    id: Annotated[str, BeforeValidator(lambda v: "" if v is None else str(v))] = ""
    currency: Currency
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    min_price: Price | None = None
    max_price: Price | None = None


class _Priced(OcpiModel):
    """The parts of a CDR or Session that pricing reads."""

    start_date_time: DateTime
    currency: Currency
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]


class CdrTimes(_Priced):
    end_date_time: DateTime


class SessionTimes(_Priced):
    end_date_time: DateTime | None = None
    last_updated: DateTime | None = None


class CdrTotals(OcpiModel):
    """The totals the command writes into a CDR (serialised as OCPI numbers)."""

    total_cost: Price
    total_fixed_cost: Price
    total_energy: Number
    total_energy_cost: Price
    total_time: Number
    total_time_cost: Price
    total_parking_time: Number
    total_parking_cost: Price
    total_reservation_cost: Price


tariff_app = typer.Typer(
    help="Price sessions and CDRs with OCPI 2.2.1 tariffs.",
    no_args_is_help=True,
    add_completion=False,
)


@tariff_app.callback()
def _tariff_group() -> None:
    """OCPI 2.2.1 tariff tools."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=EXIT_INVALID)


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _read(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"cannot read {what} file {str(path)!r}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"invalid {what}: {path} is not valid JSON ({exc})")


def _validate(raw: Any, model: type[M], what: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        _fail(f"invalid {what}: " + "; ".join(problems))


def _is_session(raw: Any) -> bool:
    """``kwh`` and ``status`` are required in a Session and do not exist in a CDR."""
    return isinstance(raw, dict) and ("kwh" in raw or "status" in raw)


@tariff_app.command("price")
def price(
    tariff_file: Annotated[
        Path, typer.Argument(metavar="TARIFF", help="Tariff object (JSON).", show_default=False)
    ],
    cdr_file: Annotated[
        Path,
        typer.Argument(metavar="CDR", help="CDR or Session object (JSON).", show_default=False),
    ],
    time_zone: Annotated[
        str,
        typer.Option(
            "--time-zone", help="IANA time zone of the Location (restrictions use local time)."
        ),
    ] = "UTC",
    reservation: Annotated[
        str | None,
        typer.Option(
            "--reservation",
            help="RESERVATION or RESERVATION_EXPIRES; by default a CDR with only reservation "
            "periods is an expired reservation.",
        ),
    ] = None,
    session: Annotated[
        bool,
        typer.Option(
            "--session",
            help="Price the document as a Session (print it with total_cost recomputed); "
            "without it, a document with kwh or status is a Session, any other a CDR.",
        ),
    ] = False,
) -> None:
    """Print CDR with every total recomputed from its charging periods with TARIFF (a Session:
    its total_cost). A running Session is priced until its last_updated."""
    try:
        tz = resolve_time_zone(time_zone)
    except ValueError as exc:
        _fail(f"invalid --time-zone: {exc}")
    if reservation is not None and reservation not in {r.value for r in Reservation}:
        _fail(f"invalid --reservation: {reservation!r} is not RESERVATION or RESERVATION_EXPIRES")
    tariff = _validate(_read(tariff_file, "tariff"), TariffPrices, "tariff")
    raw = _read(cdr_file, "CDR")
    is_session = session or _is_session(raw)
    what = "Session" if is_session else "CDR"
    end_field = "end_date_time"
    end: datetime
    times: _Priced
    if is_session:
        session_times = _validate(raw, SessionTimes, what)
        times = session_times
        if session_times.end_date_time is not None:
            end = session_times.end_date_time
        elif session_times.last_updated is not None:
            end, end_field = session_times.last_updated, "last_updated"
        else:
            _fail(
                f"invalid {what}: end_date_time: a running Session is priced until its "
                "last_updated; it has neither"
            )
    else:
        cdr_times = _validate(raw, CdrTimes, what)
        times, end = cdr_times, cdr_times.end_date_time
    try:
        compiled = compile_tariff(tariff)
    except TariffError as exc:
        _fail(f"invalid tariff: {exc}")
    if times.currency.upper() != tariff.currency.upper():
        _fail(
            f"invalid {what}: currency: {times.currency!r} differs from the tariff's currency "
            f"{tariff.currency!r}"
        )
    try:
        priced = price_session(
            compiled,
            times.charging_periods,
            times.start_date_time,
            end,
            tz,
            Reservation(reservation) if reservation else None,
        )
    except SessionDataError as exc:
        field = end_field if exc.field == "end_date_time" else exc.field
        _fail(f"invalid {what}: {field}: {exc.message}")
    typer.echo(json.dumps(_priced_document(raw, priced, is_session), indent=2, ensure_ascii=False))


def _priced_document(
    raw: dict[str, Any], priced: PricedSession, is_session: bool
) -> dict[str, Any]:
    """The document as given, with the totals pricing recomputes."""
    totals = CdrTotals.model_validate(cdr_totals(priced)).to_json()
    if is_session:
        return {**raw, "total_cost": totals["total_cost"]}
    return {**raw, **totals}
