"""Figures from results. Plotting never runs a simulation: it takes data and axes.

Run data come as a time array and a mapping of variable name -> array (a
:class:`pandas.DataFrame` with a time index works too: pass ``frame.index`` and the frame),
so figures can be drawn in a process that has not imported pandas.
"""
from __future__ import annotations

from collections.abc import Mapping
from itertools import cycle
from pathlib import Path

import numpy as np

from defdip.core.arrays import split_flat_name
from defdip.core.case import PANELS, PHASE, PHASE_LABELS, THRESHOLDS

PHASE_COLOURS = {1: "#f0f0f0", 2: "#fde0b6", 3: "#c7e3c1"}
# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in grey print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
MAX_PANELS = 6  # panels of a model without the key indicators: its first variables (or its outputs)


def distinct_colours(n: int) -> list[str]:
    """``n`` colours no two of which are alike, for lines or bands that must be told apart.

    Up to 7 the palette's (without its black, the colour of axes and zero lines); up to 18
    matplotlib's ``tab20`` without its greys (grey stands for "other"); beyond, ``n`` hues
    evenly spaced along ``turbo``. One scheme per figure: mixing them puts two blues side by side.
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex, to_rgb

    own = list(PALETTE[:-1])
    if n <= len(own):
        return own[:n]
    tab20 = [to_hex(c) for c in colormaps["tab20"].colors if len(set(np.round(to_rgb(c), 2))) > 1]
    if n <= len(tab20):
        return tab20[:n]
    return [to_hex(colormaps["turbo"](x)) for x in np.linspace(0.05, 0.95, n)]


def coloured(names):
    """``(colour, name)`` pairs, the palette repeated when a panel has more lines (a large array)."""
    return zip(cycle(PALETTE), names)


def phase_spans(time: np.ndarray, phase: np.ndarray) -> list[tuple[float, float, int]]:
    """``(start, end, phase)`` for each stretch of one phase, end = the next stretch's start."""
    time, phase = np.asarray(time, float), np.rint(np.asarray(phase)).astype(int)
    starts = np.concatenate([[0], np.nonzero(phase[1:] != phase[:-1])[0] + 1])
    ends = [*time[starts[1:]], time[-1]]
    return [(float(time[i]), float(end), int(phase[i])) for i, end in zip(starts, ends)]


def shade_phases(ax, time: np.ndarray, phase: np.ndarray):
    """Shade the background of ``ax`` by partnership phase; returns the axes.

    One collection of full-height bands (x in data, y in axes units), which neither
    changes the data limits nor costs an artist per band.
    """
    from matplotlib.collections import PolyCollection

    spans = phase_spans(time, phase)
    bands = [[(a, 0), (a, 1), (b, 1), (b, 0)] for a, b, _ in spans]
    colours = [PHASE_COLOURS.get(p, "white") for _, _, p in spans]
    ax.add_collection(PolyCollection(bands, facecolors=colours, linewidths=0, zorder=0,
                                     transform=ax.get_xaxis_transform()), autolim=False)
    return ax


def plot_variables(ax, time, data: Mapping, names, title: str = "", units: dict | None = None):
    """Line plot of ``data[name]`` against ``time`` for each name, with a key; returns the axes."""
    for colour, name in coloured(names):
        ax.plot(time, np.asarray(data[name]), lw=1.8, color=colour, label=name)
    unit = (units or {}).get(names[0], "")
    ax.set_ylabel(unit if unit and unit != "Dmnl" else "")
    # a fixed title height spares matplotlib a layout pass over the tick labels at every draw
    ax.set_title(title or names[0], fontsize=10, loc="left", y=1.0, pad=4)
    line_key(ax, names)
    return ax


def line_key(ax, names, x: float = 1.01, step: float = 0.13):
    """A key right of ``ax``: each name in its line's colour, top down; returns the axes.

    Coloured labels read like a legend and cost a fraction of one to draw.
    """
    for i, (colour, name) in enumerate(coloured(names)):
        ax.text(x, 1.0 - i * step, f"\u2501 {name}", color=colour, fontsize=8, va="top",
                transform=ax.transAxes)
    return ax


def trajectory_panels(data: Mapping, outputs=()) -> list[tuple[str, tuple[str, ...]]]:
    """``(title, columns)`` per panel: the key indicators when present, else the outputs.

    Without the key indicators, a panel is one variable: a subscripted one draws a line per
    element (its columns ``x[r1]``, ``x[r2]``, ... as PySD names them), an output naming the
    whole array shows all of them. The first :data:`MAX_PANELS` variables are shown.
    """
    panels = [(title, tuple(n for n in names if n in data)) for title, names in PANELS]
    panels = [(title, names) for title, names in panels if names]
    if panels:
        return panels
    by_variable = _by_variable(data)
    shown = [c for n in outputs for c in (by_variable.get(n) or ((n,) if n in data else ()))]
    return list(_by_variable(shown or data).items())[:MAX_PANELS]


def _by_variable(columns) -> dict[str, tuple[str, ...]]:
    """Columns by the variable they belong to (``x[r1]`` to ``x``), in their order; a scalar is its own."""
    out: dict[str, list[str]] = {}
    for column in columns:
        out.setdefault(split_flat_name(column)[0], []).append(column)
    return {name: tuple(members) for name, members in out.items()}


def figure_trajectories(time, data: Mapping, title: str, outputs=(), units: dict | None = None,
                        constants: dict | None = None, limits: dict | None = None):
    """The run figure: one panel per group of indicators, phases shaded, thresholds dashed.

    Parameters
    ----------
    time : array [Year]
        Saved times.
    data : mapping
        Variable name -> values at those times.
    title : str
        Figure title.
    outputs : sequence of str
        Variables to show when the model has none of the key indicators.
    units : dict, optional
        Variable name -> units, for the axis labels.
    constants : dict, optional
        Constant values; the phase thresholds among them are drawn as dashed lines.
    limits : dict, optional
        Variable name -> declared ``(low, high)``; a panel whose variables all have both
        gets that fixed scale (0-1 indices read alike in every run), others scale to the data.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = trajectory_frame(time, list(data), title, outputs, units, constants, limits)
    return fill_trajectories(fig, time, data)


def trajectory_frame(time, names, title: str, outputs=(), units: dict | None = None,
                     constants: dict | None = None, limits: dict | None = None):
    """The run figure without its data: panels, labels, legends and thresholds.

    Everything here depends only on which variables a run has, not on their values,
    so it can be built (and its text laid out) before the run ends; :func:`fill_trajectories`
    adds the data. Parameters as :func:`figure_trajectories`, with ``names`` the variables.
    """
    from matplotlib.patches import Patch

    panels = trajectory_panels(dict.fromkeys(names), outputs)
    fig = new_figure((11, 2.4 * len(panels) + 0.9))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    time = np.asarray(time, float)
    empty = dict.fromkeys(names, np.full(len(time), np.nan))
    for ax, (panel_title, panel_names) in zip(axes, panels):
        plot_variables(ax, time, empty, panel_names, panel_title, units)
        for constant, variable in THRESHOLDS.items():
            if variable in panel_names and constants and constant in constants:
                ax.axhline(constants[constant], color="0.35", ls="--", lw=0.9)
        ax.set_xlim(time[0], time[-1])
        _fixed_scale(ax, [(limits or {}).get(name) for name in panel_names])
    axes[-1].set_xlabel((units or {}).get("INITIAL TIME") or "Year")  # the model's time unit
    fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    bottom = 0.6 / fig.get_figheight()
    if PHASE in names:
        handles = [Patch(color=c, label=PHASE_LABELS[p]) for p, c in PHASE_COLOURS.items()]
        fig.legend(handles=handles, loc="lower left", ncol=3, frameon=False, fontsize=9,
                   title="phase (shaded):", title_fontsize=9, alignment="left")
        bottom += 0.35 / fig.get_figheight()
    fig.subplots_adjust(left=0.07, right=0.72, top=1 - 0.75 / fig.get_figheight(), bottom=bottom, hspace=0.35)
    return fig


def _fixed_scale(ax, bounds) -> None:
    """Fix the y scale to the declared ranges when every variable has both ends."""
    if not bounds or any(b is None or None in b for b in bounds):
        return
    low, high = min(b[0] for b in bounds), max(b[1] for b in bounds)
    if high > low:
        pad = 0.04 * (high - low)
        ax.set_ylim(low - pad, high + pad)  # also turns y autoscaling off, which fill relies on


def fill_trajectories(fig, time, data: Mapping):
    """Put a run's values into a figure from :func:`trajectory_frame`; returns the figure."""
    time = np.asarray(time, float)
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_label() in data:
                line.set_data(time, np.asarray(data[line.get_label()], float))
        ax.relim()
        ax.autoscale_view(scalex=False)  # a no-op on panels with a fixed scale
        if PHASE in data:
            shade_phases(ax, time, data[PHASE])
    return fig


def new_figure(figsize: tuple[float, float]):
    """A figure on the Agg canvas, outside pyplot.

    pyplot's figure manager and backend selection cost a fifth of a second per
    process and keep figures alive until closed; a bare :class:`~matplotlib.figure.Figure`
    needs neither and works without a display.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, stem: Path, formats=("png", "svg"), dpi: int = 100) -> None:
    """Save ``fig`` as ``stem``.png and ``stem``.svg (or the ``formats`` given).

    The SVG keeps text as text (``svg.fonttype = none``): smaller, searchable, and
    several times faster to write than glyphs drawn as paths. The PNG is written with
    light compression, which costs a few per cent in size and saves most of the time.
    """
    import matplotlib

    for fmt in formats:
        if fmt == "png":
            fig.savefig(stem.with_suffix(".png"), dpi=dpi, pil_kwargs={"compress_level": 1})
        else:
            with matplotlib.rc_context({"svg.fonttype": "none"}):
                fig.savefig(stem.with_suffix(f".{fmt}"))
