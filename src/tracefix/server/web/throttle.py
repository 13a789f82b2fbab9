"""Failed sign-ins, counted per account and per client address, to stop password guessing.

An argon2 verification costs ~0.1 s of CPU on purpose; without a limit, a script posting to
``/login`` could both guess passwords and keep the server's cores busy. Once an account or an
address has failed ``limit`` times within ``window`` seconds, ``/login`` answers 429 before
verifying anything, until the oldest of those failures leaves the window. A successful sign-in
clears its account's count (not its address's: one address may guess at many accounts).

The counts live in the process: the server's web side is one process (``tracefix serve``), and
a restart forgets them, which is no help to a guesser who is still throttled by the window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

#: Failures an account may have in ``WINDOW`` seconds before its sign-ins are refused.
ACCOUNT_LIMIT = 10
#: Failures one client address may have in ``WINDOW`` seconds, whatever the accounts.
ADDRESS_LIMIT = 30
WINDOW = 15 * 60.0


class SignInThrottle:
    def __init__(
        self,
        account_limit: int = ACCOUNT_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"account": account_limit, "address": address_limit}
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, account: str, address: str) -> float:
        """Seconds until a sign-in of ``account`` from ``address`` may be tried; 0 if now."""
        now = self.clock()
        with self._lock:
            waits = [
                self._wait(key, now)
                for key in (("account", account.strip().lower()), ("address", address))
            ]
        return max(waits)

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (("account", account.strip().lower()), ("address", address)):
                failures = self._failures.setdefault(key, deque())
                failures.append(now)
                if len(failures) > self.limits[key[0]]:
                    failures.popleft()  # only the last ``limit`` failures decide
            if len(self._failures) > 100_000:
                self._forget_expired(now)

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._failures.pop(("account", account.strip().lower()), None)

    def _wait(self, key: tuple[str, str], now: float) -> float:
        failures = self._failures.get(key)
        if failures is None or len(failures) < self.limits[key[0]]:
            return 0.0
        return max(0.0, failures[0] + self.window - now)

    def _forget_expired(self, now: float) -> None:
        """Keep memory bounded when many addresses or accounts fail once and never again."""
        for key in [k for k, v in self._failures.items() if v[-1] + self.window <= now]:
            del self._failures[key]
