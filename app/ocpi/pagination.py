"""Paginated GET (transport_and_format: Pagination).

``date_from`` is inclusive and ``date_to`` exclusive on ``last_updated``; objects come oldest
first; the response carries ``X-Total-Count``, ``X-Limit`` and, unless it is the last page, a
``Link: <...>; rel="next"`` with every query parameter of the original request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.core.limits import DB_BIGINT_MAX
from app.ocpi.envelope import ocpi_json_list_response, ocpi_response
from app.ocpi.errors import InvalidParameters
from app.ocpi.schemas.common import parse_datetime


@dataclass(frozen=True)
class PageParams:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None


def _parse_date(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise InvalidParameters(f"Query parameter {name}: {exc}") from None


def page_params(
    request: Request,
    offset: int = Query(
        0, ge=0, le=DB_BIGINT_MAX, description="Offset of the first object returned."
    ),
    limit: int | None = Query(
        None,
        ge=1,
        le=DB_BIGINT_MAX,
        description="Maximum number of objects; the server caps it (see X-Limit).",
    ),
    date_from: str | None = Query(
        None, description="Only objects with last_updated at or after this DateTime (inclusive)."
    ),
    date_to: str | None = Query(
        None, description="Only objects with last_updated before this DateTime (exclusive)."
    ),
) -> PageParams:
    max_page = request.app.state.hub.settings.ocpi_max_page_size
    return PageParams(
        offset=offset,
        limit=min(limit or max_page, max_page),
        date_from=_parse_date("date_from", date_from),
        date_to=_parse_date("date_to", date_to),
    )


def date_window(last_updated: Any, params: PageParams) -> list[Any]:
    """``date_from`` inclusive, ``date_to`` exclusive, on ``last_updated``."""
    conditions = []
    if params.date_from is not None:
        conditions.append(last_updated >= params.date_from)
    if params.date_to is not None:
        conditions.append(last_updated < params.date_to)
    return conditions


async def fetch_page(
    session: AsyncSession,
    stmt: SelectOfScalar[Any],
    last_updated: Any,
    tiebreak: Any,
    params: PageParams,
) -> tuple[Sequence[Any], int]:
    """Run ``stmt`` filtered by the date window; return one page (oldest first) and the total."""
    stmt = stmt.where(*date_window(last_updated, params))
    total = (await session.exec(select(func.count()).select_from(stmt.subquery()))).one()
    page = stmt.order_by(last_updated, tiebreak).offset(params.offset).limit(params.limit)
    rows = (await session.exec(page)).all()
    return rows, int(total)


def next_link(
    request: Request, base_url: str, params: PageParams, returned: int, total: int
) -> str:
    """``<url>; rel="next"`` keeping every original query parameter, or "" on the last page."""
    next_offset = params.offset + returned
    if returned == 0 or next_offset >= total:
        return ""
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]
    query += [("offset", str(next_offset)), ("limit", str(params.limit))]
    return f'<{base_url}{request.url.path}?{urlencode(query)}>; rel="next"'


def _page_headers(
    request: Request, returned: int, total: int, params: PageParams
) -> dict[str, str]:
    headers = {"X-Total-Count": str(total), "X-Limit": str(params.limit)}
    link = next_link(request, request.app.state.hub.settings.base_url, params, returned, total)
    if link:
        headers["Link"] = link
    return headers


def paginated_response(
    request: Request, data: list[Any], total: int, params: PageParams
) -> JSONResponse:
    return ocpi_response(data, headers=_page_headers(request, len(data), total, params))


def paginated_json_response(
    request: Request, documents: Sequence[str], total: int, params: PageParams
) -> Response:
    """A page of stored JSON documents (text), spliced into the envelope as they are."""
    return ocpi_json_list_response(
        documents, headers=_page_headers(request, len(documents), total, params)
    )
