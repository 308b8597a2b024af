"""How the project starts helper processes."""
from __future__ import annotations

import multiprocessing


def worker_context():
    """The multiprocessing context for a helper process: fork where the platform has it.

    A forked worker starts in milliseconds with every module its parent imported; elsewhere a
    spawned one imports them again. Callers fork before they start any thread of their own.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")
