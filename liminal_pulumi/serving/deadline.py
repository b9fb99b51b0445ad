"""Endpoint calls with a deadline: past a service's `timeout_seconds` the request is answered.

Python cannot stop a thread, so an endpoint function runs on a runner thread of its own while the
request's thread waits for it at most `timeout` seconds. Past that the request is answered 504 and
the runner is abandoned: it finishes (or never does) on its own, and its result is dropped. A
runner that is abandoned still holds the GIL's share and whatever the function held, so the
`on_abandoned` callback (the server restarts the worker process gracefully: its other requests
finish, gunicorn starts a fresh worker) is told each time.

Runners are daemon threads, kept for reuse: a worker process can exit while one is stuck.

At most `concurrency` calls run at once (the service's `threads`: model code is CPU-bound, and
more concurrent calls only queue on the GIL); a call waits for its turn within its own deadline.
Calls marked `exclusive=False` (the liveness and readiness checks) skip that queue, so a probe is
answered while the endpoints are busy or hung: the server gives gunicorn one thread more than
`concurrency` for them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("liminal.server")


class DeadlineExceeded(Exception):
    """The call did not return within its timeout (seconds, in `args[0]`)."""


class _Runner:
    __slots__ = ("_wake", "_done", "_job", "_outcome", "_abandoned", "_pool")

    def __init__(self, pool: DeadlineRunner) -> None:
        self._pool = pool
        self._wake = threading.Event()
        self._done = threading.Event()
        self._job: tuple[Callable[..., Any], tuple[Any, ...]] | None = None
        self._outcome: tuple[bool, Any] = (False, None)
        self._abandoned = False
        threading.Thread(target=self._loop, name="liminal-endpoint", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            job = self._job
            if job is None:
                return
            function, args = job
            try:
                self._outcome = (True, function(*args))
            except BaseException as error:  # handed to the request's thread, raised there
                self._outcome = (False, error)
            self._job = None
            self._done.set()
            if self._abandoned:
                log.warning("an endpoint call that timed out has now returned")
                return

    def run(self, function: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
        self._done.clear()
        self._job = (function, args)
        self._wake.set()
        if not self._done.wait(timeout):
            self._abandoned = True
            raise DeadlineExceeded(timeout)
        succeeded, value = self._outcome
        self._outcome = (False, None)
        if not succeeded:
            raise value
        return value


class DeadlineRunner:
    """Calls functions on runner threads, waiting for each at most `timeout` seconds.

    `call(function, *args)` returns what the function returns or raises what it raises; past the
    timeout it raises `DeadlineExceeded` and calls `on_abandoned()` (from the request's thread).
    Thread-safe; one runner per concurrent call, created on demand and reused.
    """

    def __init__(
        self,
        timeout: float,
        on_abandoned: Callable[[], None] | None = None,
        concurrency: int = 1,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.timeout = timeout
        self._turns = threading.BoundedSemaphore(concurrency)
        self._on_abandoned = on_abandoned
        self._idle: list[_Runner] = []
        self._lock = threading.Lock()
        self.abandoned = 0

    def call(self, function: Callable[..., Any], *args: Any, exclusive: bool = True) -> Any:
        started = time.monotonic()
        if exclusive and not self._turns.acquire(timeout=self.timeout):
            raise DeadlineExceeded(self.timeout)
        try:
            remaining = max(self.timeout - (time.monotonic() - started), 0.001)
            return self._run(function, args, remaining)
        finally:
            if exclusive:
                self._turns.release()  # even if abandoned: the worker restarts, serving meanwhile

    def _run(self, function: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
        with self._lock:
            runner = self._idle.pop() if self._idle else None
        if runner is None:
            runner = _Runner(self)
        try:
            result = runner.run(function, args, timeout)
        except DeadlineExceeded:
            with self._lock:
                self.abandoned += 1
            if self._on_abandoned is not None:
                self._on_abandoned()
            raise
        except BaseException:
            with self._lock:
                self._idle.append(runner)
            raise
        with self._lock:
            self._idle.append(runner)
        return result
