"""Draw run figures in a helper process that warms up while the model runs.

Importing matplotlib and drawing a figure cost about as much as loading and running
the model itself. When a batch of runs begins, one worker process starts and imports
matplotlib at once, in parallel with the main process's imports and simulation. Each
run's figure is then built there; where the platform can fork, the warm worker forks
so that the PNG and the SVG are written side by side on two cores. The caller waits
for the figure before it commits a result folder, so a failed drawing still leaves
nothing half-written. Where no worker can be started the figures are drawn in the
calling process, with the same files as the result.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

FORMATS = ("png", "svg")


def _warm_up() -> None:
    """Import matplotlib and load its fonts by drawing a throw-away figure with text."""
    import io

    from defdip.plotting import new_figure

    fig = new_figure((2, 1))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="warm-up")
    ax.legend()
    ax.set_title("warm-up")
    fig.savefig(io.BytesIO(), format="png")


_PREPARED: dict = {}  # key -> a run figure built before its data arrived (in this process)


def prepare_run_figure(key: str, time, names: tuple, title: str, outputs: tuple, units: dict,
                       constants: dict) -> None:
    """Build a run's figure without data and lay out its text, ahead of the run."""
    import io

    from defdip.plotting import trajectory_frame

    fig = trajectory_frame(time, names, title, outputs, units, constants)
    fig.canvas.draw()  # lays out every text while the model runs
    _PREPARED[key] = fig


def draw_run_figure(stem: Path, time, data: dict, title: str, outputs: tuple, units: dict,
                    constants: dict, formats: tuple[str, ...] = FORMATS, fork: bool = False,
                    key: str | None = None) -> None:
    """Draw the trajectory figure of one run and save it as ``stem``.png and .svg.

    Parameters
    ----------
    time, data
        Saved times [Year] and variable name -> values, plain numpy arrays (so a
        worker never needs pandas).
    fork : bool
        Write the last format in a forked child while this process writes the others.
    key : str, optional
        Use the figure :func:`prepare_run_figure` built under this key, when there is one.
    """
    from defdip.plotting import fill_trajectories, save_figure, trajectory_frame

    fig = _PREPARED.pop(key, None)
    if fig is None or {line.get_label() for ax in fig.axes for line in ax.get_lines()} - set(data):
        fig = trajectory_frame(time, list(data), title, outputs, units, constants)
    fill_trajectories(fig, time, data)
    if fork and len(formats) > 1 and hasattr(os, "fork"):
        _save_forked(fig, Path(stem), formats)
    else:
        save_figure(fig, Path(stem), formats)


def _save_forked(fig, stem: Path, formats: tuple[str, ...]) -> None:
    """Save ``formats[-1]`` in a forked child and the rest here; raise if either fails."""
    from defdip.plotting import save_figure

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: write one file, report any error through the pipe, never return
        os.close(read_end)
        status = 0
        try:
            save_figure(fig, stem, formats[-1:])
        except BaseException as exc:  # noqa: BLE001  (reported to the parent, which raises)
            os.write(write_end, f"{type(exc).__name__}: {exc}".encode()[:4000])
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        save_figure(fig, stem, formats[:-1])
    finally:
        message = os.read(read_end, 4096).decode(errors="replace")
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError(f"writing {stem.with_suffix('.' + formats[-1])} failed: {message or status}")


class Renderer:
    """A context manager that draws run figures, in a worker process when it can.

    Parameters
    ----------
    background : bool
        Use a worker process (default). ``False`` draws in the calling process.
    """

    def __init__(self, background: bool = True):
        self._background = background
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Renderer":
        if self._background:
            try:
                # fork (where there is one) starts the worker in milliseconds
                method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method))
                self._pool.submit(_warm_up)
            except (OSError, ValueError, NotImplementedError):
                self._pool = None
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def prepare(self, key: str, time, names, title: str, outputs: tuple, units: dict,
                constants: dict) -> None:
        """Build a figure ahead of its data (in the worker, while the model runs)."""
        if self._pool is not None:
            self._pool.submit(prepare_run_figure, key, time, tuple(names), title, tuple(outputs),
                              dict(units), dict(constants))

    def submit(self, stem: Path, time, data: dict, title: str, outputs: tuple, units: dict,
               constants: dict, key: str | None = None) -> Future:
        """Start drawing; the returned future's ``result()`` raises what the drawing raised."""
        args = (Path(stem), time, data, title, tuple(outputs), dict(units), dict(constants))
        if self._pool is not None:
            return self._pool.submit(draw_run_figure, *args, FORMATS, True, key)
        done: Future = Future()
        try:
            draw_run_figure(*args)
            done.set_result(None)
        except Exception as exc:  # handed to the caller through the future, as from the pool
            done.set_exception(exc)
        return done
