"""The processes that run the model for ``defdip explore``: live runs, bands and loop scores.

The explorer's server process never loads the engine. On the server's own threads the first
run, band and loop scores held the GIL for about a second each while their compiled kernels
loaded (the page's first appearance and its first redraws waited), and every band competed
with the redraws for it. In a worker process they run beside the server on the other core, and
the server's thread only waits for their results (which releases the GIL).

The command starts the pool before it imports Panel, so the worker loads the engine while the
server imports its web stack; forked where the platform can (before any thread exists, the
worker starts in milliseconds with the modules already imported), spawned elsewhere. Nothing
here imports Panel.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor

from defdip.core.processes import worker_context
from defdip.core.scenario import Scenario
from defdip.io.explore_state import loop_dominance, run_once, uncertainty_band

WORKERS = 1  # one worker: a band (~50 ms) or loop scores (~75 ms) start only after a pause in the changes
PARENT_CHECK = 1.0  # [s] how often a worker looks whether its server is still there


def worker_pool(scenario: Scenario) -> Executor | None:
    """Start the worker processes; each loads the engine with ``scenario``'s run as it starts.

    Returns ``None`` where no process can be started: the sessions then compute in their own
    threads, as a page built without a server does.
    """
    try:
        pool = ProcessPoolExecutor(WORKERS, mp_context=worker_context(), initializer=_start_worker,
                                   initargs=(scenario,))
        for _ in range(WORKERS):
            pool.submit(int)  # starts the workers now, not at the first task
    except (OSError, ValueError, NotImplementedError) as exc:
        logging.getLogger(__name__).warning("defdip explore: no worker process (%s); running in threads", exc)
        return None
    return pool


def _start_worker(scenario: Scenario) -> None:
    """A worker's start: follow the server out, then load the engine with a first run (~0.6 s)."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="defdip-parent").start()
    try:
        run_once(scenario)
    except Exception:  # noqa: BLE001, S110 - the session's own run reports the failure, in the page
        pass


def _exit_with_parent(parent: int, every: float = PARENT_CHECK) -> None:
    """End this worker once its server is gone, even when the server was killed outright.

    A server that stops shuts its workers down; one killed (SIGKILL, a crash) cannot, and a
    worker waiting for tasks would wait forever: it holds the task pipe's other end itself.
    """
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


def warm_up(scenario: Scenario, seed: int, dominance: bool) -> None:
    """Load what the first band and loop scores need, before anyone asks (in a worker).

    The first band loads the batch kernels and SALib, the first loop scores the loop set and
    the link-score kernel: about a second each.
    """
    try:
        uncertainty_band(scenario, runs=8, seed=seed)
        if dominance:
            loop_dominance(scenario)
    except Exception as exc:  # noqa: BLE001 - the sessions report the same failure where it is visible
        logging.getLogger(__name__).warning("defdip explore: warm-up failed: %s", exc)
