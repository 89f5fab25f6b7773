"""The ids of the request being handled, for log lines and the calls it makes.

Set by the OCPI transport (app/ocpi/headers.RequestIdMiddleware) from ``X-Request-ID`` and
``X-Correlation-ID``; read by the log formatter and by whatever queues or sends work on behalf
of the request. They live here, at the bottom, because logging needs them and knows no protocol.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def new_id() -> str:
    return str(uuid.uuid4())
