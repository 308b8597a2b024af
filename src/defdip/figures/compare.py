"""Figures that put runs side by side. Plotting only: data in, figures out, no model runs.

Every function takes the runs' data as plain arrays keyed by run name, and a style
mapping from :func:`run_styles`, so a run keeps its colour and line style in every figure.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np

from defdip.compare.gather import event_positions
from defdip.core.case import PHASE, PHASE_LABELS
from defdip.figures.plotting import PALETTE, PHASE_COLOURS, new_figure, shade_phases

# Okabe-Ito without its yellow, which vanishes on white paper, and without black, which
# is kept for the reference; beyond six runs the colours repeat with another line style.
REFERENCE_COLOUR = "#000000"
COLOURS = tuple(c for c in PALETTE if c.upper() not in ("#F0E442", REFERENCE_COLOUR))
LINESTYLES = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)))
EVENT_COLOUR = "0.25"
LEGEND_WIDTH = 2.9  # [inch] room right of the panels for the legends


def run_styles(names: Sequence[str], reference: str | None = None) -> dict[str, dict]:
    """``{name: {"color", "linestyle"}}``, the same in every figure of a comparison.

    The reference is drawn in black; the other runs take the colours in order, and a
    second (third...) line style once the colours are used up.
    """
    others = [n for n in names if n != reference]
    styles = {name: {"color": COLOURS[i % len(COLOURS)],
                     "linestyle": LINESTYLES[(i // len(COLOURS)) % len(LINESTYLES)]} for i, name in enumerate(others)}
    if reference in names:
        styles[reference] = {"color": REFERENCE_COLOUR, "linestyle": "-"}
    return {name: styles[name] for name in names}


def axis_label(name: str, units: Mapping[str, str]) -> str:
    """``"Cooperation Depth [Dmnl]"``: the indicator with its units."""
    unit = units.get(name, "") or "-"
    return f"{name} [{unit}]"


def _event_style(event: Mapping, styles: Mapping[str, dict]) -> tuple[str, str]:
    if event["reference"]:
        return EVENT_COLOUR, "--"
    return styles[event["runs"][0]]["color"], ":"


def event_labels(events: Sequence[Mapping], styles: Mapping[str, dict], gap: float = 0.5) -> list[tuple]:
    """``(year [Year], text, colour)`` per label; events closer than ``gap`` years share one."""
    out = []
    for event in sorted(events, key=lambda e: e["year"]):
        colour, _ = _event_style(event, styles)
        text = event["label"] if event["reference"] else \
            f"{event['label']} ({textwrap.shorten(', '.join(event['runs']), 40, placeholder=' ...')})"
        if out and out[-1][2] == colour and event["year"] - out[-1][3] < gap:
            year, previous, _, _ = out[-1]
            out[-1] = (year, f"{previous} / {text}", colour, event["year"])
        else:
            out.append((event["year"], text, colour, event["year"]))
    return [(year, text, colour) for year, text, colour, _ in out]


def draw_events(ax, events: Sequence[Mapping], styles: Mapping[str, dict], label: bool = False):
    """Vertical markers at dated events; a run that moves an event gets its own, in its colour.

    Parameters
    ----------
    events : sequence of dict
        ``{"label", "year" [Year], "runs", "reference"}`` as from
        :func:`defdip.compare.gather.event_positions`.
    label : bool
        Write the event names above the axes (on the top panels only).
    """
    for event in events:
        colour, style = _event_style(event, styles)
        ax.axvline(event["year"], color=colour, lw=0.9, ls=style, zorder=1)
    if label:
        for year, text, colour in event_labels(events, styles):
            ax.annotate(text, (year, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                        textcoords="offset points", rotation=90, ha="center", va="bottom", fontsize=8,
                        color=colour)
    return ax


def _grid(n: int) -> tuple[int, int]:
    cols = 1 if n <= 3 else 2
    return -(-n // cols), cols


def _label_room(events, styles) -> float:
    """Height [inch] above the top panels for the rotated event labels."""
    if not events:
        return 0.5
    longest = max(len(text) for _, text, _ in event_labels(events, styles))
    return 0.4 + min(longest, 60) * 0.06


def _layout(fig, rows: int, top_room: float, bottom_room: float = 0.55) -> None:
    """Leave a fixed room in inches for the event labels, the x label and the legends."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.8 / width, right=1 - LEGEND_WIDTH / width, top=1 - top_room / height,
                        bottom=bottom_room / height, hspace=0.32 if rows > 1 else 0.2, wspace=0.3)


def _legend(fig, styles: Mapping[str, dict], reference: str, shaded: bool, events: bool,
            moved: bool = False) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], lw=2.6 if n == reference else 1.6, label=f"{n} (reference)" if n == reference else n,
                      **s) for n, s in styles.items()]
    x = 1 - (LEGEND_WIDTH - 0.15) / fig.get_figwidth()
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(x, 0.98), frameon=False, fontsize=8.5,
               title="scenario", title_fontsize=9, alignment="left")
    extra = []
    if shaded:
        extra += [Patch(facecolor=c, edgecolor="0.6", lw=0.5, label=PHASE_LABELS[p])
                  for p, c in PHASE_COLOURS.items()]
    if events:
        extra.append(Line2D([], [], color=EVENT_COLOUR, lw=0.9, ls="--", label="event (reference's date)"))
    if moved:
        extra.append(Line2D([], [], color="0.5", lw=0.9, ls=":", label="event moved (in the run's colour)"))
    if extra:
        fig.legend(handles=extra, loc="lower left", bbox_to_anchor=(x, 0.02), frameon=False, fontsize=8,
                   title=f"shading: phases of {reference}" if shaded else None, title_fontsize=8.5,
                   alignment="left")


def figure_small_multiples(time, data: Mapping[str, Mapping[str, np.ndarray]], units: Mapping[str, str],
                           styles: Mapping[str, dict], reference: str, reference_phase=None,
                           events: Sequence[Mapping] = (), title: str = ""):
    """One panel per indicator, one line per run, the reference's phases shaded.

    Parameters
    ----------
    time : array [Year]
        Common saved times.
    data : mapping
        Indicator -> run name -> values at ``time``.
    units : mapping
        Indicator -> units, for the axis labels.
    styles : mapping
        Run name -> line style, from :func:`run_styles`.
    reference : str
        The reference run (drawn thicker, on top).
    reference_phase : array, optional
        The reference's partnership phase at ``time``, shaded behind every panel.
    events : sequence of dict
        Dated events, see :func:`draw_events`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(data)
    fig, axes, rows, cols = _panel_grid(len(names), events, styles)
    time = np.asarray(time, float)
    for ax, name in zip(axes, names):
        if reference_phase is not None:
            shade_phases(ax, time, reference_phase)
        draw_events(ax, events, styles, label=ax in axes[:cols])
        runs = data[name]
        for run in sorted(runs, key=lambda r: r == reference):  # the reference last, on top
            step = "steps-post" if name == PHASE else "default"
            ax.plot(time, np.asarray(runs[run], float), lw=2.6 if run == reference else 1.5, drawstyle=step,
                    zorder=3, **styles[run])
        ax.set_ylabel(axis_label(name, units), fontsize=9)
        if name == PHASE:
            ax.set_yticks([1, 2, 3])
        _panel_style(ax, time)
    _finish_grid(axes, len(names), cols)
    if title:
        fig.suptitle(title, x=0.01, y=0.995, ha="left", va="top", fontsize=11)
    _layout(fig, rows, top_room=_label_room(events, styles))
    _legend(fig, styles, reference, reference_phase is not None, bool(events),
            any(not e["reference"] for e in events))
    return fig


def figure_differences(time, diffs: Mapping[str, Mapping[str, np.ndarray]], units: Mapping[str, str],
                       styles: Mapping[str, dict], reference: str, events: Sequence[Mapping] = (),
                       title: str = ""):
    """Each run minus the reference, one panel per indicator, a zero line for the reference.

    Parameters are those of :func:`figure_small_multiples`, with ``diffs`` holding
    indicator -> run name -> (run - reference) at ``time``.
    """
    names = list(diffs)
    fig, axes, rows, cols = _panel_grid(len(names), events, styles)
    time = np.asarray(time, float)
    for ax, name in zip(axes, names):
        draw_events(ax, events, styles, label=ax in axes[:cols])
        ax.axhline(0, lw=2.6, zorder=2, **styles[reference])
        for run, values in diffs[name].items():
            step = "steps-post" if name == PHASE else "default"
            ax.plot(time, np.asarray(values, float), lw=1.5, drawstyle=step, zorder=3, **styles[run])
        ax.set_ylabel(f"\u0394 {axis_label(name, units)}", fontsize=9)
        if name == PHASE:
            ax.yaxis.get_major_locator().set_params(integer=True)
        _panel_style(ax, time)
    _finish_grid(axes, len(names), cols)
    fig.suptitle(title or f"Difference from {reference} (run minus reference)", x=0.01, y=0.995, ha="left",
                 va="top", fontsize=11)
    _layout(fig, rows, top_room=_label_room(events, styles))
    _legend(fig, styles, reference, False, bool(events), any(not e["reference"] for e in events))
    return fig


def figure_phase_timeline(time, phases: Mapping[str, np.ndarray], transitions: Mapping[str, float | None],
                          styles: Mapping[str, dict], reference: str, events: Sequence[Mapping] = (),
                          title: str = "Partnership phase by scenario"):
    """One horizontal bar per run coloured by phase, its transition year marked.

    Parameters
    ----------
    time : array [Year]
        Common saved times.
    phases : mapping
        Run name -> partnership phase (1, 2, 3) at ``time``; drawn top to bottom in order.
    transitions : mapping
        Run name -> transition year [Year], or None when the run never turns strategic.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = list(phases)
    time = np.asarray(time, float)
    top = _label_room(events, styles) + 0.2
    fig = new_figure((12, 0.42 * len(names) + 1.4 + top))
    ax = fig.add_subplot()
    for row, name in enumerate(names):
        y = len(names) - 1 - row
        phase = np.rint(np.asarray(phases[name], float)).astype(int)
        cuts = np.r_[0, np.nonzero(np.diff(phase))[0] + 1, len(phase)]
        spans = [(time[a], (time[b] if b < len(time) else time[-1]) - time[a]) for a, b in zip(cuts[:-1], cuts[1:])]
        colours = [PHASE_COLOURS.get(phase[a], "white") for a in cuts[:-1]]
        ax.broken_barh(spans, (y - 0.36, 0.72), facecolors=colours, edgecolor="0.45", lw=0.6, zorder=2)
        ax.plot([time[0] - 0.9, time[0] - 0.25], [y, y], lw=2.6 if name == reference else 1.6, clip_on=False,
                **styles[name])
        year = transitions.get(name)
        if year is not None:
            ax.plot([year], [y], marker="D", ms=7, color="black", mfc=styles[name]["color"], zorder=4)
            ax.annotate(f"{year:.2f}", (year, y), xytext=(6, 0), textcoords="offset points", va="center",
                        fontsize=8, zorder=4)
        else:
            ax.annotate("no transition", (time[-1], y), xytext=(4, 0), textcoords="offset points", va="center",
                        fontsize=8, color="0.3", annotation_clip=False)
    draw_events(ax, events, styles, label=True)
    ax.set_yticks(range(len(names)), [f"{n} (reference)" if n == reference else n for n in reversed(names)],
                  fontsize=9)
    ax.tick_params(axis="y", length=0, pad=30)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlim(time[0], time[-1])
    ax.set_xlabel("Year [Year]", fontsize=9)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    width, height = fig.get_size_inches()
    handles = [Patch(facecolor=c, edgecolor="0.45", lw=0.6, label=PHASE_LABELS[p]) for p, c in PHASE_COLOURS.items()]
    handles.append(Line2D([], [], marker="D", ls="", color="black", mfc="white",
                          label="transition to a strategic partnership"))
    fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.01, 0.01), ncol=4, frameon=False, fontsize=8.5)
    fig.suptitle(title, x=0.01, y=0.995, ha="left", va="top", fontsize=11)
    fig.subplots_adjust(left=2.6 / width, right=1 - 1.0 / width, top=1 - top / height, bottom=1.0 / height)
    return fig


FIGURES = ("compare_indicators", "compare_differences", "compare_phases")


def comparison_figures(comparison) -> dict:
    """The three comparison figures of a :class:`defdip.compare.gather.Comparison`, by file stem.

    Returns
    -------
    dict
        ``compare_indicators`` (small multiples), ``compare_differences`` (from the
        reference) and, when the runs have a partnership phase, ``compare_phases``.
    """

    styles = run_styles(comparison.names, comparison.reference)
    events = event_positions(comparison)
    time, reference = comparison.time, comparison.reference
    data = {v: {n: c.to_numpy(float) for n, c in comparison.frame(v).items()} for v in comparison.variables}
    has_phase = all(PHASE in r.trajectories for r in comparison.runs)
    ref_phase = comparison.run(reference).trajectories[PHASE].to_numpy(float) if has_phase else None
    figures = {"compare_indicators": figure_small_multiples(
        time, data, comparison.units, styles, reference, ref_phase, events,
        title=f"Scenarios compared ({len(comparison.runs)} runs; shading: phases of {reference})")}
    if len(comparison.runs) > 1:
        diffs = {v: {n: c.to_numpy(float) for n, c in comparison.differences(v).items()}
                 for v in comparison.variables}
        figures["compare_differences"] = figure_differences(time, diffs, comparison.units, styles, reference, events)
    if has_phase:
        phases = {r.name: r.trajectories[PHASE].to_numpy(float) for r in comparison.runs}
        transitions = {r.name: r.summary.get("transition_year") for r in comparison.runs}
        figures["compare_phases"] = figure_phase_timeline(time, phases, transitions, styles, reference, events)
    return figures


def _panel_style(ax, time) -> None:
    """The look every comparison panel shares: the run's span, light horizontal grid, small ticks."""
    ax.set_xlim(time[0], time[-1])
    ax.grid(axis="y", color="0.85", lw=0.5)
    ax.tick_params(labelsize=8.5)


def _finish_grid(axes, used: int, cols: int) -> None:
    """Hide the unused panels of a grid and label the time axis under each bottom panel."""
    for ax in axes[used:]:
        ax.set_visible(False)
    for ax in axes[-cols:]:
        ax.set_xlabel("Year [Year]", fontsize=9)
        ax.xaxis.set_tick_params(labelbottom=True)


def _panel_grid(count: int, events, styles):
    """A figure with one panel per indicator, room for the legend and the event labels."""
    rows, cols = _grid(count)
    fig = new_figure((5.2 * cols + LEGEND_WIDTH + 0.8, 2.5 * rows + 0.9 + _label_room(events, styles)))
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False).ravel()
    return fig, axes, rows, cols
