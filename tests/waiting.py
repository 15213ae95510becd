"""One bounded wait for the tests: poll until something happened, or stop the test.

A hang guard, not a timing: the bound is generous (a loaded machine must pass), and what
a test asserts is the state it waited for, never how long it took. Every polling loop in
the tests goes through here, so none can wait forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(ready: Callable[[], T], what: str, *, bound: float = 60.0, poll: float = 0.05) -> T:
    """``ready()`` once it returns something truthy; :class:`TimeoutError` naming ``what``
    if it has not after ``bound`` seconds."""
    end = time.monotonic() + bound
    while not (got := ready()):
        if time.monotonic() > end:
            raise TimeoutError(f"never happened, after {bound:.0f} s of polling: {what}")
        time.sleep(poll)
    return got
