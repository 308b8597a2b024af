"""How the project starts helper processes."""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
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


class WorkerPool:
    """Worker processes that each take a task, return its result, and take the next.

    Not ``concurrent.futures``: its pool reads every worker's results through one shared pipe in
    a background thread, and a worker ended by Ctrl-C halfway through sending a large result
    leaves that thread waiting for the rest forever (the parent holds the pipe's other end, so
    no end of file comes); the pool's shutdown, and the interpreter's exit, wait on that thread.
    Here each worker has a pipe of its own that only it writes, read in the calling thread: a
    worker that dies is an end of file, and Ctrl-C reaches the caller, which ends every worker.
    Workers ignore Ctrl-C themselves, so they end only when the pool ends them.
    """

    def __init__(self, workers: int, function, context=None):
        self._function = function
        self._context = context or multiprocessing.get_context("spawn")
        self._workers = workers
        self._links: list[tuple] = []  # (process, connection)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def map_unordered(self, tasks):
        """Yield ``(index, result)`` for each of ``tasks`` as its worker finishes it.

        Raises
        ------
        Exception
            What the function raised in the worker (its traceback added as a note), or a
            ``RuntimeError`` if a worker process ended without answering.
        """
        pending = iter(enumerate(tasks))
        busy = {}  # connection -> task index
        for connection in self._start(min(self._workers, len(tasks))):
            _hand_out(connection, pending, busy)
        while busy:
            for connection in multiprocessing.connection.wait(list(busy)):
                index = busy.pop(connection)
                yield index, self._answer(connection)
                _hand_out(connection, pending, busy)

    def _start(self, count: int) -> list:
        with _sigint_blocked():  # a worker starts with Ctrl-C blocked, so it cannot print a traceback
            for _ in range(count):
                ours, theirs = self._context.Pipe()
                process = self._context.Process(target=_serve, args=(theirs, self._function), daemon=True)
                process.start()
                theirs.close()  # only the worker holds its end: its death is an end of file here
                self._links.append((process, ours))
        return [connection for _, connection in self._links]

    def _answer(self, connection):
        try:
            ok, value, trace = connection.recv()
        except EOFError:
            process = next(p for p, c in self._links if c is connection)
            process.join(1.0)
            raise RuntimeError(f"a worker process ended without answering (exit status {process.exitcode})") \
                from None
        if ok:
            return value
        value.add_note(trace)
        raise value

    def close(self) -> None:
        """End every worker now (they hold nothing to save) and wait for them."""
        for process, connection in self._links:
            connection.close()
            if process.is_alive():
                process.terminate()
        for process, _ in self._links:
            process.join(5.0)
            if process.is_alive():
                process.kill()
                process.join()
        self._links = []


def _hand_out(connection, pending, busy) -> None:
    index, task = next(pending, (None, None))
    if index is not None:
        connection.send(task)
        busy[connection] = index


@contextmanager
def _sigint_blocked():
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a Ctrl-C held back is raised here


def _serve(connection, function) -> None:
    """A worker's loop: ignore Ctrl-C (the parent ends the worker), answer tasks until the pipe
    closes, from either end (a closed pipe while answering would print a traceback otherwise)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        answer = _call(function, task)
        try:
            connection.send(answer)
        except OSError:  # the pool closed its end (Ctrl-C, or an error elsewhere): nobody is listening
            return


def _call(function, task) -> tuple:
    """``(True, result, "")`` or ``(False, exception, its traceback)``, picklable either way."""
    import pickle
    import traceback

    try:
        return True, function(task), ""
    except Exception as exc:  # noqa: BLE001 -- raised again in the parent
        trace = "in the worker process:\n" + traceback.format_exc()
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return False, exc, trace
