"""Figures from results. Plotting never runs a simulation: it takes data and axes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PHASE_COLOURS = {1: "#f0f0f0", 2: "#fde0b6", 3: "#c7e3c1"}
PHASE_LABELS = {1: "1 tactical, one-sided", 2: "2 tactical, two-sided", 3: "3 strategic"}
FLOW_PANEL = ("Arms Transfers Russia to Iran", "Arms Transfers Iran to Russia")
INDEX_PANELS = ("Cooperation Depth", "Reciprocity", "Strategic Partnership Index", "Mutual Trust",
                "Institutionalisation")
THRESHOLDS = {"Strategic Partnership Index": "strategic threshold", "Reciprocity": "two sided threshold"}


def shade_phases(ax, time: np.ndarray, phase: np.ndarray):
    """Shade the background of ``ax`` by partnership phase; returns the axes."""
    phase = np.rint(np.asarray(phase)).astype(int)
    start = 0
    for i in range(1, len(time) + 1):
        if i == len(time) or phase[i] != phase[start]:
            end = time[i] if i < len(time) else time[-1]
            ax.axvspan(time[start], end, color=PHASE_COLOURS.get(phase[start], "white"), lw=0, zorder=0)
            start = i
    return ax


def plot_variable(ax, frame: pd.DataFrame, names, units: dict | None = None):
    """Line plot of one or more columns on ``ax``; returns the axes."""
    for name in names:
        ax.plot(frame.index, frame[name], lw=1.8, label=name)
    unit = (units or {}).get(names[0], "")
    ax.set_ylabel(unit if unit and unit != "Dmnl" else "")
    ax.set_title(" / ".join(names) if len(names) < 3 else names[0], fontsize=10)
    ax.grid(alpha=0.3)
    if len(names) > 1:
        ax.legend(fontsize=8, loc="upper left", frameon=False)
    return ax


def trajectory_panels(frame: pd.DataFrame, outputs=()) -> list[tuple[str, ...]]:
    """Which variables go in which panel: the key indicators when present, else the outputs."""
    panels = []
    if all(n in frame for n in FLOW_PANEL):
        panels.append(FLOW_PANEL)
    panels += [(n,) for n in INDEX_PANELS if n in frame]
    if not panels:
        names = [n for n in outputs if n in frame] or list(frame.columns[:6])
        panels = [(n,) for n in names[:9]]
    return panels


def figure_trajectories(frame: pd.DataFrame, title: str, outputs=(), units: dict | None = None,
                        constants: dict | None = None):
    """A small-multiples figure of a run with the phases shaded (when the model has phases)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    panels = trajectory_panels(frame, outputs)
    ncols = 2 if len(panels) > 1 else 1
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(11, 2.8 * nrows + 0.8), sharex=True, squeeze=False)
    time = frame.index.to_numpy(float)
    has_phase = "Partnership Phase" in frame
    for ax, names in zip(axes.flat, panels):
        if has_phase:
            shade_phases(ax, time, frame["Partnership Phase"].to_numpy())
        plot_variable(ax, frame, names, units)
        threshold = THRESHOLDS.get(names[0])
        if threshold and constants and threshold in constants:
            ax.axhline(constants[threshold], color="0.3", ls="--", lw=1)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("Year")
    fig.suptitle(title, fontsize=12)
    if has_phase:
        handles = [Patch(color=c, label=PHASE_LABELS[p]) for p, c in PHASE_COLOURS.items()]
        fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.05 if has_phase else 0, 1, 0.97))
    return fig


def save_figure(fig, stem: Path) -> None:
    """Save ``fig`` as PNG and SVG next to each other and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(stem.with_suffix(".png"), dpi=130)
    fig.savefig(stem.with_suffix(".svg"))
    plt.close(fig)
