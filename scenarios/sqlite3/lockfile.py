"""The writers' lock file: an exclusive flock, taken by polling so that the wait is bounded."""

from __future__ import annotations

import contextvars
import fcntl
import time

# Try again after 50 µs, doubling up to 1 ms (a transaction here takes about 0.1 to 1 ms), so the
# wait costs a few wake-ups, not the 5 ms steps of SQLite's busy handler.
FIRST_WAIT = 0.00005
LONGEST_WAIT = 0.001


class WouldWait(Exception):
    """The lock is taken and this call asked not to wait for it (see `no_wait`)."""


# True while a call runs that must not wait for the lock (one on an event loop's thread): its next
# transaction raises WouldWait instead, before it begins. Only the first: once a transaction of the
# call has begun, stopping at a later one would leave the call half done.
no_wait: contextvars.ContextVar[bool] = contextvars.ContextVar("scenery_sqlite_no_wait", default=False)


def acquire(fd: int, deadline: float) -> bool:
    """Take the exclusive flock on `fd` by `deadline` (monotonic): False if it was not free by then."""
    wait = FIRST_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)
            continue
        return True
