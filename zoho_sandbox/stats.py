"""Request counters of the sandbox (API and token endpoint; admin calls are not counted)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Counts by status, path, Zoho error code and "METHOD path status"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_status: Counter[int] = Counter()
            self.by_path: Counter[str] = Counter()
            self.by_code: Counter[str] = Counter()
            self.by_request: Counter[str] = Counter()

    def record(self, method: str, path: str, status: int, code: str | None) -> None:
        with self._lock:
            self.by_status[status] += 1
            self.by_path[path] += 1
            self.by_request[f"{method} {path} {status}"] += 1
            if code:
                self.by_code[code] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self.by_status.values()),
                "by_status": dict(self.by_status),
                "by_path": dict(self.by_path),
                "by_code": dict(self.by_code),
                "by_request": dict(self.by_request),
            }
