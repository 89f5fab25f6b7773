"""What this instance knows of the callbacks it opened itself, so that the receiver's result is
matched without waiting for the database (a dropped cache costs one SELECT, never a result).

- ``pending``: callbacks whose INSERT is still on its way to a commit while the request already
  went to the receiver (a fast CPO may post its CommandResult first): the result handler waits
  for that write instead of answering 404.
- ``waiting``: the columns of callbacks opened here that wait for their first result, as
  written. Only what never changes is read from them without a check: the status they hold is a
  guess that the conditional UPDATE in ``relay_result_now`` confirms (another instance may have
  timed the callback out meanwhile).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

# Callbacks remembered per instance (the oldest forgotten first: the database has them all).
MAX_REMEMBERED = 10_000


class OpenCallbacks:
    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self.pending: dict[str, asyncio.Future[bool]] = {}
        # What receivers answered, to be written (relay.record_answer), and the task writing.
        self.answers: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self.recorder: asyncio.Task[None] | None = None
        # Commands' deadlines queued in ``answers`` and not yet taken by the writer, by callback
        # id: a result relayed meanwhile marks its deadline as not to be written.
        self.unrecorded: dict[int, dict[str, Any]] = {}
        self._waiting: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def remember(self, public_id: str, values: dict[str, Any]) -> None:
        self._waiting[public_id] = values
        while len(self._waiting) > self.limit:
            self._waiting.popitem(last=False)

    def get(self, public_id: str) -> dict[str, Any] | None:
        values = self._waiting.get(public_id)
        return dict(values) if values is not None else None

    def forget(self, public_id: str) -> None:
        self._waiting.pop(public_id, None)
