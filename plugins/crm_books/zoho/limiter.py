"""The cap on Zoho calls in flight, shared by every task and sensor process on one host.

Zoho refuses calls beyond an org's concurrency cap (Free 5 ... Ultimate 25 in flight) with 429.
The limiter holds one of ``max_concurrency`` slots around each API call. A slot is an exclusive
``flock`` on one of ``max_concurrency`` small files in a directory named after the org and app,
so the two extract tasks, their read threads and the deal sensor share one budget whatever
process they run in. The kernel drops a dead process's locks, so a killed task never leaks a
slot. Across hosts (several Celery workers) nothing is shared: give each worker its share of the
org's cap (see docs/operating.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# A default safe for the smallest paid edition (Standard: 10 in flight, shared with other apps).
DEFAULT_MAX_CONCURRENCY = 4
# How long a caller waits before trying the slots again when all are held by other processes.
POLL_SECONDS = 0.005


class CallLimiter:
    """At most ``max_concurrency`` calls in flight among everyone using ``directory``.

    :param max_concurrency: slots (calls in flight) in all.
    :param directory: where the slot files are; every process using the same directory shares
        the slots.
    """

    def __init__(self, max_concurrency: int, directory: Path) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # This process's threads queue here first, so only one per slot polls the files.
        self._local = threading.BoundedSemaphore(max_concurrency)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot while the block runs (one API call)."""
        with self._local:
            fd = self._acquire()
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _acquire(self) -> int:
        order = list(range(self.max_concurrency))
        while True:
            random.shuffle(order)  # spread processes over the slots instead of all trying slot 0
            for index in order:
                fd = os.open(self.directory / f"slot-{index}", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                return fd
            time.sleep(POLL_SECONDS * (1 + random.random()))


_limiters: dict[tuple[Path, int], CallLimiter] = {}
_limiters_lock = threading.Lock()


def host_limiter(api_base_url: str, client_id: str, max_concurrency: int) -> CallLimiter:
    """The limiter of one org's app on this host, the same object for every client in a process."""
    name = hashlib.sha256(f"{api_base_url}\0{client_id}".encode()).hexdigest()[:16]
    directory = Path(tempfile.gettempdir()) / "crm_books_zoho_slots" / name
    with _limiters_lock:
        key = (directory, max_concurrency)
        if key not in _limiters:
            _limiters[key] = CallLimiter(max_concurrency, directory)
        return _limiters[key]
