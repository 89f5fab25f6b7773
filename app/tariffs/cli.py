"""``voltroam tariff``: price a CDR with a tariff from the command line.

``voltroam tariff price TARIFF.json CDR.json [--time-zone Europe/Amsterdam]`` prints the CDR as
JSON with every total recomputed from its charging periods, start and end (totals in the file are
ignored). Invalid input: a message naming the field on stderr and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from app.ocpi.schemas.cdrs import CDR
from app.ocpi.schemas.tariffs import Tariff
from app.tariffs.engine import apply_to_cdr, price_session, resolve_time_zone
from app.tariffs.model import SessionDataError, TariffError, compile_tariff
from app.tariffs.restrictions import Reservation

__all__ = ["tariff_app"]

EXIT_INVALID = 2

M = TypeVar("M", bound=BaseModel)

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


def _load(path: Path, model: type[M], what: str) -> M:
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"cannot read {what} file {str(path)!r}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"invalid {what}: {path} is not valid JSON ({exc})")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        _fail(f"invalid {what}: " + "; ".join(problems))


@tariff_app.command("price")
def price(
    tariff_file: Annotated[
        Path, typer.Argument(metavar="TARIFF", help="Tariff object (JSON).", show_default=False)
    ],
    cdr_file: Annotated[
        Path, typer.Argument(metavar="CDR", help="CDR object (JSON).", show_default=False)
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
) -> None:
    """Print CDR with every total recomputed from its charging periods with TARIFF."""
    try:
        tz = resolve_time_zone(time_zone)
    except ValueError as exc:
        _fail(f"invalid --time-zone: {exc}")
    if reservation is not None and reservation not in {r.value for r in Reservation}:
        _fail(f"invalid --reservation: {reservation!r} is not RESERVATION or RESERVATION_EXPIRES")
    tariff = _load(tariff_file, Tariff, "tariff")
    cdr = _load(cdr_file, CDR, "CDR")
    try:
        compiled = compile_tariff(tariff)
    except TariffError as exc:
        _fail(f"invalid tariff: {exc}")
    if cdr.currency.upper() != tariff.currency.upper():
        _fail(
            f"invalid CDR: currency: {cdr.currency!r} differs from the tariff's currency "
            f"{tariff.currency!r}"
        )
    try:
        priced = price_session(
            compiled,
            cdr.charging_periods,
            cdr.start_date_time,
            cdr.end_date_time,
            tz,
            Reservation(reservation) if reservation else None,
        )
    except SessionDataError as exc:
        _fail(f"invalid CDR: {exc}")
    typer.echo(json.dumps(apply_to_cdr(cdr, priced).to_json(), indent=2, ensure_ascii=False))
