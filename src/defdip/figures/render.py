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

import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from defdip.core.case import PHASE
from defdip.core.processes import quiet_interrupts, worker_context
from defdip.figures.plotting import fill_trajectories, save_figure, trajectory_frame

FORMATS = ("png", "svg")


@dataclass(frozen=True)
class RunFigure:
    """What the run figure shows, known before the run (so it can be built while the model runs).

    Attributes
    ----------
    names : tuple of str
        The columns drawn (a subscripted variable's elements, as the run names them).
    title : str
    outputs : tuple of str
        The scenario's ``outputs`` (the indicators to show; empty: the defaults).
    units, constants, limits : dict
        Variable -> units; constant -> value (thresholds are drawn from these); variable ->
        (low, high) of its declared range (such a panel has a fixed scale).
    """

    names: tuple = ()
    title: str = ""
    outputs: tuple = ()
    units: dict = field(default_factory=dict)
    constants: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)

    def frame(self, time, names=None):
        """The figure without its data (:func:`defdip.figures.plotting.trajectory_frame`)."""
        return trajectory_frame(time, list(self.names if names is None else names), self.title, self.outputs,
                                self.units, self.constants, self.limits)


def _warm_up() -> None:
    """Import matplotlib's figure machinery, before any figure is asked for."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.collections  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import PIL.PngImagePlugin  # noqa: F401


_PREPARED: dict = {}  # key -> _Prepared: a run figure built before its data arrived (this process)


@dataclass
class _Prepared:
    """A figure drawn without data, and the pixels of everything that will not change."""

    fig: object
    background: object   # Agg pixels of the static parts (text, ticks, frames of fixed-scale panels)
    dynamic: list        # panels that scale to the data: drawn whole once the data are in


def prepare_run_figure(key: str, time, spec: RunFigure) -> None:
    """Build a run's figure without data and draw its static parts, ahead of the run."""

    fig = spec.frame(time)
    dynamic = [ax for ax in fig.axes if ax.get_autoscaley_on()]
    for ax in dynamic:
        ax.set_visible(False)
    fig.canvas.draw()  # lays out and renders every text while the model runs
    background = fig.canvas.copy_from_bbox(fig.bbox)
    _lay_out_for_svg(fig)
    for ax in dynamic:
        ax.set_visible(True)
    _PREPARED[key] = _Prepared(fig, background, dynamic)


def _lay_out_for_svg(fig) -> None:
    """Draw once as SVG (72 dpi), so the text layouts the SVG needs are cached too."""
    import io

    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(io.BytesIO(), format="svg")


def draw_run_figure(stem: Path, time, data: dict, spec: RunFigure, formats: tuple[str, ...] = FORMATS,
                    fork: bool = False, key: str | None = None) -> None:
    """Draw the trajectory figure of one run and save it as ``stem``.png and .svg.

    Parameters
    ----------
    time, data
        Saved times [Year] and variable name -> values, plain numpy arrays (so a
        worker never needs pandas).
    fork : bool
        Write the last format in a forked child while this process writes the others.
    key : str, optional
        Use the figure :func:`prepare_run_figure` built under this key, when there is one:
        its PNG is then composed from the prepared pixels plus the data (blitting).
    """

    prepared = _PREPARED.pop(key, None)
    if prepared is not None and {line.get_label() for ax in prepared.fig.axes for line in ax.get_lines()
                                 if not line.get_label().startswith("_")} != set(data) - {PHASE}:
        prepared = None  # prepared for other variables than the run has
    fig = prepared.fig if prepared else spec.frame(time, list(data))
    fill_trajectories(fig, time, data)
    writers = [_writer(fig, Path(stem), fmt, prepared) for fmt in formats]
    if fork and len(writers) > 1 and hasattr(os, "fork"):
        _run_forked(writers, Path(stem), formats)
    else:
        for write in writers:
            write()


def _writer(fig, stem: Path, fmt: str, prepared: _Prepared | None):

    if fmt == "png" and prepared is not None:
        return lambda: _blit_png(prepared, stem.with_suffix(".png"))
    return lambda: save_figure(fig, stem, (fmt,))


def _blit_png(prepared: _Prepared, path: Path) -> None:
    """Compose the PNG from the prepared background and the data's artists only."""
    from PIL import Image

    fig = prepared.fig
    canvas = fig.canvas
    renderer = canvas.get_renderer()
    canvas.restore_region(prepared.background)
    for ax in fig.axes:
        if ax in prepared.dynamic:
            ax.draw(renderer)  # left out of the background: drawn whole, ticks and all
            continue
        changing = [*ax.collections, *ax.patches, *ax.lines, *ax.spines.values()]  # shading, lines, frame
        for artist in sorted(changing, key=lambda a: a.get_zorder()):
            artist.draw(renderer)
    width, height = canvas.get_width_height()
    image = Image.frombuffer("RGBA", (width, height), bytes(canvas.buffer_rgba()), "raw", "RGBA", 0, 1)
    image.convert("RGB").save(path, format="png", compress_level=1)  # opaque figure: no alpha to keep


def _run_forked(writers: list, stem: Path, formats: tuple[str, ...]) -> None:
    """Run the last writer in a forked child and the rest here; raise if either fails."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: write one file, report any error through the pipe, never return
        os.close(read_end)
        status = 0
        try:
            writers[-1]()
        except BaseException as exc:  # noqa: BLE001  (reported to the parent, which raises)
            os.write(write_end, f"{type(exc).__name__}: {exc}".encode()[:4000])
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        for write in writers[:-1]:
            write()
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
            import numpy  # noqa: F401  (both processes need it: imported once, before the fork)

            try:
                self._pool = ProcessPoolExecutor(1, mp_context=worker_context(), initializer=quiet_interrupts)
                self._pool.submit(_warm_up)
            except (OSError, ValueError, NotImplementedError):
                self._pool = None
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def prepare(self, key: str, time, spec: RunFigure) -> None:
        """Build a figure ahead of its data (in the worker, while the model runs)."""
        if self._pool is not None:
            self._pool.submit(prepare_run_figure, key, time, spec)

    def submit(self, stem: Path, time, data: dict, spec: RunFigure, key: str | None = None) -> Future:
        """Start drawing; the returned future's ``result()`` raises what the drawing raised."""
        args = (Path(stem), time, data, spec)
        if self._pool is not None:
            return self._pool.submit(draw_run_figure, *args, FORMATS, True, key)
        done: Future = Future()
        try:
            draw_run_figure(*args)
            done.set_result(None)
        except Exception as exc:  # handed to the caller through the future, as from the pool
            done.set_exception(exc)
        return done
