"""The throttle: signals in, a decision out. It decides in a background thread; the work
loop only asks "may I?" before each unit of work (as gh-ost's throttler does), and takes
tokens from the rate's bucket.

What the signals are is the engine's (bluegreen.engines.*.throttle): `bluegreen pause`,
replica lag, active sessions, the user's throttle query on PostgreSQL; the pause flag on
SQLite. A signal may also say the work must end (its migration was aborted, its table
replaced): that is fatal, and stops the work with that error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from bluegreen.core.pace import ChunkSizer, ThrottleSettings, TokenBucket
from bluegreen.errors import BluegreenError


class ThrottleSignals(Protocol):
    """An engine's signals, read on a connection of their own."""

    # Errors of the signals' connection: the throttle holds the work back and reconnects.
    transient: tuple[type[BaseException], ...]

    def open(self) -> AbstractContextManager[Any]:
        """A connection to poll on."""
        ...

    def reason(self, conn: Any) -> str | None:
        """Why the work should wait now, or None; raises a BluegreenError when it must
        end."""
        ...

    def wait(self, conn: Any, seconds: float) -> bool:
        """Until a control event (a pause, an abort...) or ``seconds`` pass; True when an
        event came."""
        ...


# The throttle's thread waits for signals in slices this long, so that ``stop`` (the end
# of every copy) returns within one slice rather than one whole ``check_interval``.
_SLICE = 0.05


class Throttle:
    """Polls the signals; ``reason`` is None while work may go on. ``fatal`` is set (and
    ``stop`` with it) when a signal says the work must end."""

    def __init__(self, settings: ThrottleSettings, signals: ThrottleSignals,
                 stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.signals = signals
        self.work_stop = stop or threading.Event()
        self.bucket = TokenBucket(settings.max_rows_per_second)
        self.reason: str | None = None
        self.fatal: BluegreenError | None = None
        self.stop_event = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="bluegreen-throttle",
                                        daemon=True)

    def start(self) -> Throttle:
        with self.signals.open() as conn:
            self._decide_and_publish(conn)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _decide_and_publish(self, conn: Any) -> None:
        try:
            reason = self.signals.reason(conn)
        except BluegreenError as error:
            with self._changed:
                self.fatal = error
                self.reason = f"stopping: {error.message}"
                self._changed.notify_all()
            self.work_stop.set()
            self.stop_event.set()
            return
        with self._changed:
            self.reason = reason
            self._changed.notify_all()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                with self.signals.open() as conn:
                    while not self.stop_event.is_set():
                        self._decide_and_publish(conn)
                        self._pause(conn)
            except self.signals.transient as error:
                # Cannot read the signals: hold the work back rather than run blind.
                with self._changed:
                    self.reason = f"cannot read throttle signals: {error}".splitlines()[0]
                self.stop_event.wait(1.0)

    def _pause(self, conn: Any) -> None:
        """Until the next poll is due, a control event comes, or the throttle stops."""
        deadline = time.monotonic() + self.settings.check_interval
        while not self.stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self.signals.wait(conn, min(left, _SLICE)):
                return

    def wait(self, stop: threading.Event, rows: int = 0,
             on_wait: Callable[[str], None] | None = None) -> None:
        """Block while throttled (or until ``stop``), then reserve ``rows`` tokens; settle
        the real count with ``settle`` once known."""
        while True:
            with self._changed:
                while self.reason is not None and not stop.is_set() and \
                        not self.stop_event.is_set():
                    if on_wait:
                        on_wait(self.reason)
                    self._changed.wait(timeout=0.5)
            if not rows or stop.is_set():
                return
            self.bucket.take(rows, stop)
            if self.reason is None or stop.is_set():
                return
            # Paused (or throttled) while waiting for tokens: give them back and wait again.
            self.bucket.settle(rows, 0)

    def settle(self, reserved: int, used: int) -> None:
        self.bucket.settle(reserved, used)

    @property
    def waited(self) -> float:
        """Seconds the rate limit held the work back."""
        return self.bucket.waited


class NoSignals:
    """Signals of an engine with nothing to throttle on (no replicas, no other sessions):
    the work goes at its rate limit alone."""

    transient: tuple[type[BaseException], ...] = ()

    @contextmanager
    def open(self) -> Iterator[None]:
        yield None

    def reason(self, conn: Any) -> str | None:
        return None

    def wait(self, conn: Any, seconds: float) -> bool:
        time.sleep(seconds)
        return False


class StepPacer:
    """The pace of a batched apply step: the engine's throttle (its signals and the rate's
    token bucket) before each key range, and a chunk sizer adapted to the ranges' time
    (fixed when the user gave ``chunk_rows``)."""

    def __init__(self, throttle: Throttle, chunk_rows: int | None) -> None:
        self.stop = threading.Event()
        self.sizer = ChunkSizer(chunk_rows or 1000, fixed=chunk_rows is not None,
                                high=50_000)
        self.throttle = throttle.start()

    @property
    def size(self) -> int:
        return self.sizer.size

    def wait(self, rows: int) -> None:
        self.throttle.wait(self.stop, rows=rows)

    def observe(self, rows: int, seconds: float) -> None:
        self.sizer.observe(rows, seconds)

    def close(self) -> None:
        self.stop.set()
        self.throttle.stop()
