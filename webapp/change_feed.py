"""What changed in the database, as PostgreSQL's triggers announce it on the `spets_portal` channel.

The triggers of migration 0009 send, on commit, a key per account (`u:<id>`), student
(`s:<id>`) or tenant (`t:<id>`) whose portal pages may have changed, or `x` for all.
One thread per web process listens on its own connection and numbers each key it
receives. A reader notes the `position()` before it checks the database. Later, while
`unchanged_since(position, keys)` is true, no change to those keys has arrived, so what
the check read is still true without asking the database again.

A change reaches the thread a moment after its commit (99 % within 1.2 ms when measured,
see docs/operations.md); until then a reader still sees the state before it. When
the connection drops, every position taken before is void, since notifications sent
meanwhile are lost; readers check the database until the thread listens again.
"""

import logging
import os
import threading
import time

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "spets_portal"
EVERYTHING = "x"

Position = tuple[int, int]

# How often the listening connection is probed, and the TCP limits that make a probe on a
# dead connection fail within about 30 seconds (libpq connection parameters).
PROBE_SECONDS = 15
CONNECTION_CHECKS = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


class ChangeFeed:
    """Listen on `CHANNEL` from a thread started in each process on first use."""

    def __init__(self, conninfo: str, forget_after_seconds: float, max_retry_seconds: float = 60.0):
        self.conninfo = conninfo
        self.forget_after_seconds = forget_after_seconds
        self.max_retry_seconds = max_retry_seconds
        self.listening = False
        self.epoch = 0  # raised on every new connection: older positions are void
        self.sequence = 0
        self._changed: dict[str, tuple[int, float]] = {}
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._stopped = threading.Event()

    def position(self) -> Position | None:
        """Return the feed's epoch and sequence number, or None while it is not listening."""
        self._ensure_running()
        if not self.listening:
            return None
        return (self.epoch, self.sequence)

    def unchanged_since(self, position: Position | None, keys: tuple[str, ...]) -> bool:
        """Say whether none of `keys` has changed since `position`, as far as is known."""
        if position is None or not self.listening or position[0] != self.epoch:
            return False
        if self._pid != os.getpid():  # forked: the parent's thread did not come along
            return False
        changed = self._changed
        for key in (*keys, EVERYTHING):
            entry = changed.get(key)
            if entry is not None and entry[0] > position[1]:
                return False
        return True

    def wait_for(self, sequence: int, timeout: float) -> bool:
        """Wait until the feed has numbered `sequence` changes (for tests and tools)."""
        deadline = time.monotonic() + timeout
        while self.sequence < sequence:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def stop(self) -> None:
        self._stopped.set()

    def _ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            # A forked process inherits no thread: start one of its own, from a clean state
            # set before the process id, which readers compare first.
            self.listening = False
            self._changed = {}
            self._pid = os.getpid()
            thread = threading.Thread(target=self._run, name="spets-change-feed", daemon=True)
            thread.start()

    def _run(self) -> None:
        retry_seconds = 1.0
        while not self._stopped.is_set():
            epoch = self.epoch
            try:
                self._listen()
            except psycopg.Error as error:
                log.warning(
                    "change feed not listening (%s); pages are checked until it is, "
                    "next attempt in %.0f s",
                    error,
                    retry_seconds,
                )
            finally:
                self.listening = False
            self._stopped.wait(retry_seconds)
            # Wait twice as long after each failed attempt, from 1 s again after a success.
            connected = self.epoch != epoch
            retry_seconds = 1.0 if connected else min(2 * retry_seconds, self.max_retry_seconds)

    def _listen(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True, **CONNECTION_CHECKS) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.epoch += 1
            self.listening = True
            log.info("change feed listening on %s", CHANNEL)
            probed_at = time.monotonic()
            while not self._stopped.is_set():
                for notification in connection.notifies(timeout=1.0):
                    self._note(notification.payload)
                self._forget_old()
                if time.monotonic() - probed_at >= PROBE_SECONDS:
                    # An idle connection that a network device dropped raises nothing by
                    # itself; a statement on it fails within the TCP limits below.
                    connection.execute("SELECT 1")
                    probed_at = time.monotonic()

    def _note(self, key: str) -> None:
        self.sequence += 1
        self._changed[key] = (self.sequence, time.monotonic())

    def _forget_old(self) -> None:
        """Drop keys changed longer ago than any reader keeps a position."""
        oldest = time.monotonic() - self.forget_after_seconds
        stale = [key for key, (_, at) in self._changed.items() if at < oldest]
        for key in stale:
            self._changed.pop(key, None)
