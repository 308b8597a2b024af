"""How the project starts helper processes."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from contextlib import contextmanager


def worker_context():
    """The multiprocessing context for a helper process: fork where the platform has it.

    A forked worker starts in milliseconds with every module its parent imported; elsewhere a
    spawned one imports them again. Callers fork before they start any thread of their own.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def quiet_interrupts() -> None:
    """Make Ctrl-C end this helper process at once and silently (a pool's ``initializer``).

    Ctrl-C reaches every process of the terminal's group. The command itself reports it in one
    line and removes what it was writing; a helper writes no result of its own, so it has
    nothing to clean up and nothing to say (Python would print its traceback).
    """
    signal.signal(signal.SIGINT, _end)


def _end(signum, frame) -> None:
    os._exit(128 + signum)


@contextmanager
def deferred_interrupts():
    """Hold Ctrl-C back until the block ends, then raise it: for short writes a library cannot
    be interrupted in (h5netcdf, stopped while it opens a file, prints an error of its own).

    Outside the main thread, where no signal handler can be set, the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
