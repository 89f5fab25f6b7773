"""Forwarding: directed requests to one party, and pushes announced to receivers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.security import UndecryptableToken
from app.hub import agreements, edge
from app.hub.context import HubContext
from app.hub.local import no_endpoint
from app.hub.outbox.service import Push, enqueue
from app.hub.parties.models import ConnectionStatus, endpoint_url
from app.hub.routing import PUSHED_TO, Party, broadcast_receivers, find_party, hub_ref
from app.hub.store.models import OcpiObject
from app.ocpi.client import OcpiReply, PeerError, join_url
from app.ocpi.envelope import ocpi_response
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef, RoutingHeaders
from app.ocpi.status import OcpiStatus

log = logging.getLogger("voltroam.forward")


async def resolve_receiver(session: AsyncSession, ref: PartyRef, roles: frozenset[str]) -> Party:
    """The party a directed request names, in a role that takes it: 4001 when unknown (or it
    plays no such role), 4003 when not connected."""
    return check_receiver(await find_party(session, ref, roles), ref, roles)


async def resolve_for(
    session: AsyncSession,
    ctx: HubContext,
    ref: PartyRef,
    roles: frozenset[str],
    *,
    asking: PartyRef,
    module: str,
) -> Party:
    """``resolve_receiver`` for a request of ``asking``: a party it has no active agreement with
    is an unknown receiver (4001), word for word what a party that does not exist gets."""
    party = await find_party(session, ref, roles)
    if party is not None and not await agreements.allows(session, ctx, party, asking, module):
        party = None
    return check_receiver(party, ref, roles)


def check_receiver(party: Party | None, ref: PartyRef, roles: frozenset[str]) -> Party:
    """``party`` (found for ``ref`` in ``roles``) as a receiver: 4001 when there is none, 4003
    when it is not connected."""
    if party is None or not party.platform.registered:
        kinds = "/".join(sorted(roles))
        raise OcpiError(OcpiStatus.UNKNOWN_RECEIVER, f"Unknown receiver {ref} (as {kinds})")
    if party.platform.status != ConnectionStatus.CONNECTED:
        raise OcpiError(
            OcpiStatus.RECEIVER_NOT_CONNECTED,
            f"Receiver {ref} is not connected ({party.platform.status})",
        )
    return party


async def call_party(
    ctx: HubContext,
    party: Party,
    *,
    module: str,
    interface: str,
    method: str,
    path: str = "",
    params: Sequence[tuple[str, str]] = (),
    body: Any = None,
    from_party: PartyRef | None,
    timeout: float | None = None,
) -> OcpiReply:
    """One synchronous call to a party's endpoint, with the hub's routing errors (4xxx).

    ``path`` is appended to the endpoint URL as it is: build it with ``url_path`` (every id one
    percent-encoded segment).
    """
    base = endpoint_url(party.platform, module, interface)
    if base is None:
        raise no_endpoint(party.ref, module, interface)
    # In the receiver's OCPI version (app/hub/edge.py); a 2.2.1 receiver gets it as it is.
    out = await edge.outbound(
        ctx.sessions,
        ctx.settings,
        party.platform,
        module=module,
        interface=interface,
        method=method,
        path=path,
        query=urlencode(list(params)),
        body=body,
        routing=RoutingHeaders(from_party=from_party, to_party=party.ref),
    )
    if out.answer is not None:
        return out.answer
    url = join_url(base, out.path) if out.path else base
    if out.query:
        url = f"{url}?{out.query}"
    if party.platform.outbound_token is None:
        raise OcpiError(
            OcpiStatus.RECEIVER_NOT_CONNECTED, f"Receiver {party.ref} is not registered"
        )
    try:
        token = ctx.cipher.decrypt(party.platform.outbound_token)
    except UndecryptableToken as exc:
        log.error("cannot call %s: %s", party.ref, exc)
        # The hub's own fault, not the requester's nor the receiver's: a server error.
        raise OcpiError(
            OcpiStatus.SERVER_ERROR, f"The hub cannot call {party.ref}: {exc}"
        ) from None
    try:
        reply = await ctx.ocpi.request(
            out.method,
            url,
            token,
            json=out.body,
            routing=out.routing,
            timeout=timeout,
            module=module,
            version=out.version,
        )
        return edge.reply_in(out, reply)
    except PeerError as exc:
        if exc.kind == "timeout":
            raise OcpiError(
                OcpiStatus.FORWARD_TIMEOUT, f"{party.ref} did not answer in time"
            ) from None
        raise OcpiError(
            OcpiStatus.RECEIVER_NOT_CONNECTED, f"{party.ref} could not be reached: {exc.message}"
        ) from None


def relay_reply(
    ctx: HubContext, reply: OcpiReply, routing: RoutingHeaders, request_path: str
) -> JSONResponse:
    """The receiver's answer, as the hub gives it back to the requester.

    Its status code and message go back unchanged (2xxx/3xxx included); pagination headers are
    kept, and a ``Link`` is rewritten to point at the hub ("every Link header that passes through
    the hub points to the hub").
    """
    headers = dict(routing.reversed().as_headers())
    for name in ("X-Total-Count", "X-Limit"):
        if name in reply.headers:
            headers[name] = reply.headers[name]
    link = reply.headers.get("Link")
    if link and "<" in link and ">" in link:
        target = link[link.index("<") + 1 : link.index(">")]
        query = urlencode(parse_qsl(urlsplit(target).query))
        headers["Link"] = f'<{ctx.settings.base_url}{request_path}?{query}>; rel="next"'
    http_status = reply.http_status if reply.http_status in (200, 201, 404) else 200
    return ocpi_response(
        reply.data,
        reply.status_code,
        reply.status_message,
        http_status=http_status,
        headers=headers,
    )


async def broadcast(
    session: AsyncSession,
    ctx: HubContext,
    *,
    module: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    object_ref: str,
    sender_platform_id: int | None,
    full: bool,
    query: str = "",
    stored: OcpiObject | None = None,
) -> int:
    """Queue a Broadcast Push to every connected receiver (the caller commits).

    "The Hub then sends the pushed data to any client implementing the corresponding applicable
    module, using its own party-id and country-code in the OCPI-from- headers."
    """
    receivers = await broadcast_receivers(session, module, sender_platform_id)
    receivers = await agreements.receivers(
        session, ctx, module, object_ref, receivers, stored=stored
    )
    remote: list[Push] = []
    for party in receivers:
        push = Push(
            platform_id=party.platform.id or 0,
            module=module,
            method=method,
            path=path,
            object_ref=object_ref,
            body=body,
            from_party=hub_ref(ctx.settings),
            to_party=party.ref,
            full=full,
            query=query,
        )
        local = ctx.local_parties.of(party.platform)
        if local is not None:
            await local.receive(session, push)
        elif party.platform.local is None:
            # (A local party this process does not run, a command-line tool's, is sent nothing.)
            remote.append(push)
    await enqueue(session, remote)
    return len(receivers)


async def route_to(
    session: AsyncSession,
    ctx: HubContext,
    *,
    recipient: PartyRef,
    module: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    object_ref: str,
    from_party: PartyRef,
    full: bool,
    query: str = "",
) -> bool:
    """Queue a push to one party (Sessions, CDRs: the token owner's eMSP-like role), or hand it
    to a local party in this transaction. Not queued when it is not connected: it will be brought
    up to date when it is back (or pulls with date_from)."""
    party = await find_party(session, recipient, PUSHED_TO[module])
    if party is None or not party.platform.registered:
        log.info(
            "no connected platform for %s: %s %s kept for a later pull", recipient, method, module
        )
        return False
    push = Push(
        platform_id=party.platform.id or 0,
        module=module,
        method=method,
        path=path,
        object_ref=object_ref,
        body=body,
        from_party=from_party,
        to_party=party.ref,
        full=full,
        query=query,
    )
    local = ctx.local_parties.of(party.platform)
    if local is not None:
        await local.receive(session, push)
        return True
    if party.platform.status != ConnectionStatus.CONNECTED:
        return False
    if endpoint_url(party.platform, module, "RECEIVER") is None:
        return False
    await enqueue(session, [push])
    return True
