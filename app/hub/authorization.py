"""Real-time authorization of a Token (mod_tokens, "Real-time authorization"): one chain.

Two places ask it: a partner CPO's ``POST sender/tokens/{uid}/authorize`` (the hub relays to the
token's eMSP, app/modules/tokens/authorize.py) and the hub's own CPO when a charger sends OCPP
Authorize or StartTransaction (app/ocpp/authorization.py). Both run the same ordered steps; the
first that decides answers:

1. steps the caller contributes (the OCPP package: a pending remote start for this idTag);
2. the stored Token's whitelist, where the CPO asking may choose it (``Policy.whitelist_first``):
   ALWAYS and ALLOWED ("The CPO may choose which version of authorization to use") are accepted
   without asking; an invalid Token is BLOCKED;
3. the token's eMSP, local or remote, asked in real time: a local party (the payments eMSP
   answers its own single-use tokens) by a call, a partner over HTTP;
4. the fallback when that eMSP is offline or does not answer in time: the stored Token where its
   whitelist allows it ("when the CPO cannot get a response from the eMSP [...] the CPO shall
   allow this Token to be used"), saying so in ``info``.

The hub relaying a partner CPO's request does not choose the whitelist (the CPO asked in real
time, so the eMSP decides), the own CPO does: that difference is ``Policy``, not two chains.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub import agreements
from app.hub.context import HubContext
from app.hub.forward import call_party, check_receiver
from app.hub.routing import EMSP_LIKE, find_party
from app.hub.store.models import OcpiObject
from app.ocpi.client import OcpiReply, url_path
from app.ocpi.errors import NotFound, OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.tokens import AllowedType, WhitelistType
from app.ocpi.status import OcpiStatus

log = logging.getLogger("voltroam.authorize")

MODULE = "tokens"
# Whitelists under which a CPO may authorize without asking the eMSP (when it chooses to).
WITHOUT_ASKING = frozenset({WhitelistType.ALWAYS, WhitelistType.ALLOWED})
# Whitelists under which the stored Token decides when its eMSP cannot be reached.
WHEN_UNREACHABLE = frozenset(
    {WhitelistType.ALWAYS, WhitelistType.ALLOWED, WhitelistType.ALLOWED_OFFLINE}
)
# Routing failures after which the stored token may decide.
OWNER_UNAVAILABLE = (OcpiStatus.FORWARD_TIMEOUT, OcpiStatus.RECEIVER_NOT_CONNECTED)

# How a decision was reached (OCPI AuthMethod where it becomes one).
BY_COMMAND = "COMMAND"
BY_WHITELIST = "WHITELIST"
BY_REQUEST = "AUTH_REQUEST"


@dataclass(frozen=True)
class Policy:
    """What differs between the CPOs that ask."""

    # Accept ALWAYS/ALLOWED tokens from the stored Token without asking the eMSP (and refuse an
    # invalid one): the own CPO does; the hub relaying a partner CPO's request does not.
    whitelist_first: bool


RELAYING = Policy(whitelist_first=False)
OWN_CPO = Policy(whitelist_first=True)


@dataclass(frozen=True)
class AuthorizationRequest:
    uid: str
    token_type: str
    # The stored Token (None: the hub holds none, only its eMSP can say).
    token: OcpiObject | None
    # The token's eMSP (None: unknown token).
    owner: PartyRef | None
    # LocationReferences sent with the request (None: none).
    location: dict[str, Any] | None
    # The CPO asking (OCPI-from of the request to the eMSP).
    requester: PartyRef


@dataclass(frozen=True)
class Authorization:
    """The decision: an AuthorizationInfo (as JSON) and how it was reached. ``reply`` is the
    remote eMSP's answer as it came, which the hub relays unchanged."""

    info: dict[str, Any]
    by: str
    reply: OcpiReply | None = None

    @property
    def allowed(self) -> str | None:
        value = self.info.get("allowed")
        return str(value) if value is not None else None


Step = Callable[[AsyncSession, AuthorizationRequest], Awaitable[Authorization | None]]


def _with_location(info: dict[str, Any], location: dict[str, Any] | None) -> dict[str, Any]:
    if location is not None and info.get("allowed") == AllowedType.ALLOWED:
        info["location"] = location
    return info


def _from_whitelist(token: OcpiObject, location: dict[str, Any] | None) -> dict[str, Any]:
    data = token.data
    info: dict[str, Any] = {
        "allowed": AllowedType.ALLOWED if data.get("valid") else AllowedType.NOT_ALLOWED,
        "token": data,
    }
    return _with_location(info, location)


def _whitelist(request: AuthorizationRequest) -> Authorization | None:
    """Step 2 (``Policy.whitelist_first``)."""
    token = request.token
    if token is None:
        return None
    if not token.data.get("valid"):
        return Authorization({"allowed": AllowedType.BLOCKED, "token": token.data}, BY_WHITELIST)
    if token.data.get("whitelist") in WITHOUT_ASKING:
        return Authorization(_from_whitelist(token, request.location), BY_WHITELIST)
    return None


def _fallback(request: AuthorizationRequest, exc: OcpiError) -> Authorization:
    """Step 4, or the routing error when the stored Token does not allow it."""
    token = request.token
    if (
        exc.status_code not in OWNER_UNAVAILABLE
        or token is None
        or token.data.get("whitelist") not in WHEN_UNREACHABLE
    ):
        raise exc
    log.info("token %s authorized from the whitelist: %s", request.uid, exc.message)
    info = _from_whitelist(token, request.location)
    info["info"] = {
        "language": "en",
        "text": f"Authorized by the hub from the eMSP's whitelist ({exc.message})"[:512],
    }
    return Authorization(info, BY_WHITELIST)


async def _ask_emsp(
    session: AsyncSession, ctx: HubContext, request: AuthorizationRequest, owner: PartyRef
) -> Authorization:
    """Step 3: the token's eMSP, local or remote (raises the routing error)."""
    party = check_receiver(await find_party(session, owner, EMSP_LIKE), owner, EMSP_LIKE)
    local = ctx.local_parties.of(party.platform)
    if local is not None:
        info = await local.authorize(session, request.uid, request.token_type, request.location)
        return Authorization(info, BY_REQUEST)
    reply = await call_party(
        ctx,
        party,
        module=MODULE,
        interface="SENDER",
        method="POST",
        path=url_path(request.uid, "authorize"),
        params=[("type", request.token_type)],
        body=request.location,
        from_party=request.requester,
    )
    info = reply.data if reply.ok and isinstance(reply.data, dict) else {}
    return Authorization(info, BY_REQUEST, reply)


async def authorize(
    session: AsyncSession,
    ctx: HubContext,
    request: AuthorizationRequest,
    policy: Policy,
    first: Sequence[Step] = (),
) -> Authorization:
    """Run the chain. Raises NotFound (2004) for a token nobody knows, and the routing error
    (4001, 4003, 4002) when the eMSP cannot answer and the stored Token may not decide."""
    for step in first:
        decided = await step(session, request)
        if decided is not None:
            return decided
    if request.owner is not None and not await agreements.authorizes(
        session, ctx, request.requester, request.owner
    ):
        # A token of an eMSP the CPO has no agreement with is a token the hub does not know.
        raise NotFound(f"Unknown Token {request.uid}", OcpiStatus.UNKNOWN_TOKEN)
    if policy.whitelist_first:
        decided = _whitelist(request)
        if decided is not None:
            return decided
    if request.owner is None:
        # "If the token is not known, the response SHALL contain the status code: 2004".
        raise NotFound(f"Unknown Token {request.uid}", OcpiStatus.UNKNOWN_TOKEN)
    try:
        return await _ask_emsp(session, ctx, request, request.owner)
    except OcpiError as exc:
        return _fallback(request, exc)
