"""Slow down guessing: an address that sends many bad tokens is answered 429 for a while."""

from __future__ import annotations

import threading
import time
from collections import deque


class BadTokenLimiter:
    """At most ``limit`` bad tokens per address in ``window_s`` seconds (per process)."""

    def __init__(self, limit: int = 20, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and now - q[0] > self.window_s:
            q.popleft()

    def failed(self, addr: str) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._failures.setdefault(addr, deque())
            self._trim(q, now)
            q.append(now)
            if len(self._failures) > 10_000:  # never grow without bound
                self._failures.pop(next(iter(self._failures)))

    def blocked(self, addr: str) -> bool:
        now = time.monotonic()
        with self._lock:
            q = self._failures.get(addr)
            if not q:
                return False
            self._trim(q, now)
            return len(q) >= self.limit
