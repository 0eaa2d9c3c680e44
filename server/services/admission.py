"""Admission of heavy queries: a few at a time per client and in total, across every worker.

Two clients looping a heavy query used to cut everyone else's lookups from 3.9/s to 0.1/s. A
query that is still running after ``cheap_seconds`` (:mod:`server.services.pool`) needs a
slot here to go on: one of ``per_client`` slots of its client (the remote address) and one
of ``total`` slots of the server. Without a free client slot it is stopped with ``429 Too Many
Requests``, without a free server slot with ``503 Service Unavailable``; both say when to try
again (``Retry-After``: the query timeout, by when every running query has ended).

The counters must hold across gunicorn's worker processes, without module state and without a
process that owns them: each slot is a file in one folder (made by the application before the
workers fork, in ``/dev/shm``), and holding a slot is holding an exclusive ``flock`` on it. The
kernel keeps the count: a lock is released when its descriptor is closed, also when the
process holding it dies, so no slot is ever leaked. Two threads of one worker open the file
separately and so compete like two processes (``flock`` locks belong to the open file).
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import threading
from pathlib import Path
from types import TracebackType

from werkzeug.exceptions import ServiceUnavailable, TooManyRequests


class ClientBusy(TooManyRequests):
    """This client already runs as many heavy queries as it may: 429."""


class ServerBusy(ServiceUnavailable):
    """The server already runs as many heavy queries as it may: 503."""


class Ticket:
    """Slots held (their locked descriptors); released on leaving the ``with`` block."""

    def __init__(self, descriptors: list[int]) -> None:
        self.descriptors = descriptors

    def __enter__(self) -> Ticket:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        descriptors, self.descriptors = self.descriptors, []
        for descriptor in descriptors:
            os.close(descriptor)  # releases its lock


class Admission:
    """``per_client`` heavy queries per client and ``total`` in all, counted in ``folder``."""

    def __init__(self, folder: Path, per_client: int, total: int) -> None:
        self.folder = folder
        #: The folder as text, ended by a separator: a slot's path is one concatenation (a
        #: ``Path`` joined per slot tried: 18 µs a ticket taken and given back, not 12).
        self._prefix = os.path.join(folder, "")
        self.per_client = per_client
        self.total = total

    def admit(self, client: str | None, timeout: float) -> Ticket:
        """A ticket for one heavy query of ``client``; :class:`ClientBusy` or
        :class:`ServerBusy` (with ``Retry-After``) when there is no slot for it."""
        retry_after = max(1, math.ceil(timeout))
        name = hashlib.sha256((client or "").encode("utf-8", "surrogatepass")).hexdigest()[:24]
        mine = self._take(f"client-{name}", self.per_client)
        if mine is None:
            raise ClientBusy(
                f"this client already runs {self.per_client} long queries; try again later",
                retry_after=retry_after,
            )
        shared = self._take("server", self.total)
        if shared is None:
            os.close(mine)
            raise ServerBusy(
                f"the server already runs {self.total} long queries; try again later",
                retry_after=retry_after,
            )
        return Ticket([mine, shared])

    def _take(self, prefix: str, slots: int) -> int | None:
        """A locked descriptor of a free slot of ``prefix-0`` … ``prefix-(slots-1)``. Each
        thread starts looking at its own slot (the others after it, in turn), so that threads
        of busy workers do not all try the slots their neighbours hold first: at 8 connections
        on the store path that was up to 16 tries (0.15 ms) a query instead of one."""
        start = threading.get_native_id()
        for step in range(slots):
            number = (start + step) % slots
            descriptor = os.open(f"{self._prefix}{prefix}-{number}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            return descriptor
        return None

    def held(self) -> int:
        """Server slots held now, by any worker (for tests)."""
        return sum(self._busy(f"server-{number}") for number in range(self.total))

    def _busy(self, name: str) -> bool:
        descriptor = os.open(self.folder / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(descriptor)
        return False
