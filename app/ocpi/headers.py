"""Routing headers and unique message ids (transport_and_format: Message Routing)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.ids import correlation_id_var, new_id, request_id_var
from app.ocpi.errors import InvalidParameters

TO_COUNTRY = "OCPI-to-country-code"
TO_PARTY = "OCPI-to-party-id"
FROM_COUNTRY = "OCPI-from-country-code"
FROM_PARTY = "OCPI-from-party-id"
REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
_REQUEST_ID_RAW = REQUEST_ID.lower().encode("latin-1")
_CORRELATION_ID_RAW = CORRELATION_ID.lower().encode("latin-1")


@dataclass(frozen=True)
class PartyRef:
    """A country_code/party_id pair, normalised upper-case (CiString)."""

    country_code: str
    party_id: str

    @classmethod
    def of(cls, country_code: str, party_id: str) -> PartyRef:
        return cls(country_code.strip().upper(), party_id.strip().upper())

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id}"


@dataclass(frozen=True)
class RoutingHeaders:
    from_party: PartyRef | None = None
    to_party: PartyRef | None = None

    @classmethod
    def from_headers(cls, headers: Headers) -> RoutingHeaders:
        return cls(
            from_party=_pair(headers, FROM_COUNTRY, FROM_PARTY),
            to_party=_pair(headers, TO_COUNTRY, TO_PARTY),
        )

    def as_headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.from_party:
            out[FROM_COUNTRY] = self.from_party.country_code
            out[FROM_PARTY] = self.from_party.party_id
        if self.to_party:
            out[TO_COUNTRY] = self.to_party.country_code
            out[TO_PARTY] = self.to_party.party_id
        return out

    def reversed(self) -> RoutingHeaders:
        """The headers of the response to a request carrying these."""
        return RoutingHeaders(from_party=self.to_party, to_party=self.from_party)


def _pair(headers: Headers, country_header: str, party_header: str) -> PartyRef | None:
    country = headers.get(country_header, "").strip()
    party = headers.get(party_header, "").strip()
    if not country and not party:
        return None
    if len(country) != 2 or not (1 <= len(party) <= 3) or not (country + party).isascii():
        raise InvalidParameters(
            f"Routing headers {country_header}/{party_header} must be a CiString(2) and a"
            " CiString(3)"
        )
    return PartyRef.of(country, party)


class RequestIdMiddleware:
    """Echo ``X-Request-ID`` and keep ``X-Correlation-ID``; generate both when a peer omits them.

    The ids are put in context variables so that log lines and outbound calls made while handling
    the request carry them: a forwarded request gets a new X-Request-ID and the same correlation id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given_request_id = given_correlation_id = None
        # One pass over the raw headers (lower-case names in ASGI), the first of each kept.
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_RAW:
                if given_request_id is None:
                    given_request_id = value.decode("latin-1")
            elif name == _CORRELATION_ID_RAW and given_correlation_id is None:
                given_correlation_id = value.decode("latin-1")
        request_id = _clean_id(given_request_id) or new_id()
        correlation_id = _clean_id(given_correlation_id) or new_id()
        scope.setdefault("state", {})
        scope["state"]["request_id"] = request_id
        scope["state"]["correlation_id"] = correlation_id
        rid_token = request_id_var.set(request_id)
        cid_token = correlation_id_var.set(correlation_id)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out[REQUEST_ID] = request_id
                out[CORRELATION_ID] = correlation_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            request_id_var.reset(rid_token)
            correlation_id_var.reset(cid_token)


def _clean_id(value: str | None) -> str | None:
    """Accept a peer's id only if it is short printable ASCII (it is echoed into headers/logs)."""
    if not value:
        return None
    value = value.strip()
    if not value or len(value) > 255 or not all(32 < ord(c) < 127 for c in value):
        return None
    return value
