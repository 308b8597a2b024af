"""Loop dominance figures: relative loop scores as stacked areas, and the ensemble's dominance fans.

Plotting only: each function takes arrays and axes and returns the axes.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from defdip.figures.plotting import PALETTE, distinct_colours, new_figure, save_figure, shade_phases

OTHER = "other loops"
MAX_BANDS = 7  # named or strongest loops drawn as their own band per polarity; the rest as one


def dominance_areas(ax, time, relative: dict, labels: dict | None = None, phase=None, max_bands: int = MAX_BANDS):
    """Relative loop scores over time as stacked areas: reinforcing above 0, balancing below.

    Parameters
    ----------
    ax : matplotlib axes
    time : array (T,)
        [model time units]
    relative : dict
        Loop -> relative loop score (T,) [dimensionless, -1..1]; NaN where undefined.
    labels : dict, optional
        Loop -> text on the figure (the documented loops' names); loops with a label come first.
    phase : array (T,), optional
        The scenario's phase at each time; shades the background.
    max_bands : int
        Loops drawn as their own band per polarity (the labelled ones and the strongest);
        the rest are summed into one grey band.

    Returns
    -------
    matplotlib axes
    """
    time = np.asarray(time, float)
    labels = labels or {}
    if phase is not None:
        shade_phases(ax, time, phase)
    bands = _bands(relative, labels, max_bands)
    named = [b for b in bands if b != OTHER]
    colours = dict(zip(named, distinct_colours(len(named))))
    for sign in (1.0, -1.0):
        values = [np.clip(np.nan_to_num(sign * bands[name]), 0, None) * sign for name in bands]
        if not any(v.any() for v in values):
            continue
        ax.stackplot(time, *values, colors=[colours.get(n, "#bbbbbb") for n in bands], linewidth=0, alpha=0.9)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylim(-1.02, 1.02)
    ax.set_xlim(time[0], time[-1])
    ax.set_ylabel("relative loop score")
    ax.text(0.005, 0.98, "reinforcing", transform=ax.transAxes, va="top", fontsize=8)
    ax.text(0.005, 0.02, "balancing", transform=ax.transAxes, va="bottom", fontsize=8)
    for i, name in enumerate(bands):
        text = textwrap.shorten(labels.get(name, name), 48, placeholder=" ...")
        ax.text(1.01, 1.0 - i * 0.07, f"\u2588 {text}", color=colours.get(name, "#999999"), fontsize=7,
                va="top", transform=ax.transAxes)
    return ax


def _bands(relative: dict, labels: dict, max_bands: int) -> dict:
    """The loops drawn as bands (labelled first, then by mean |score|) and the rest summed."""
    strength = {k: float(np.nanmean(np.abs(v))) if np.isfinite(v).any() else 0.0 for k, v in relative.items()}
    order = sorted(relative, key=lambda k: (k not in labels, -strength[k]))
    keep = [k for k in order if k in labels or strength[k] > 0][:max(max_bands, len(labels))]
    bands = {k: np.asarray(relative[k], float) for k in keep}
    rest = [np.asarray(relative[k], float) for k in relative if k not in bands]
    if rest:
        bands[OTHER] = np.nansum(rest, axis=0) * np.where(np.isnan(rest[0]), np.nan, 1.0)
    return bands


def dominance_fan(ax, time, quantiles: dict, share=None, colour: str = PALETTE[0], label: str = ""):
    """One loop across an ensemble: bands of its relative score, the share of runs it dominates.

    Parameters
    ----------
    ax : matplotlib axes
    time : array (T,)
    quantiles : dict
        Percentile (5, 25, 50, 75, 95) -> relative score at that percentile (T,).
    share : array (T,), optional
        Share of runs in which the loop is in the dominant set [0-1]; drawn dashed.
    """
    time = np.asarray(time, float)
    ax.fill_between(time, quantiles[5], quantiles[95], color=colour, alpha=0.18, linewidth=0)
    ax.fill_between(time, quantiles[25], quantiles[75], color=colour, alpha=0.35, linewidth=0)
    ax.plot(time, quantiles[50], color=colour, lw=1.5)
    if share is not None:
        ax.plot(time, share, color="black", lw=1.0, ls="--")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylim(-1.02, 1.02)
    ax.set_title(label, fontsize=9, loc="left")
    return ax


def write_dominance_figure(stem: Path, time, relative: dict, labels: dict, title: str, phase=None) -> list[Path]:
    """``stem.png`` and ``stem.svg``: the stacked relative loop scores of one run."""
    fig = new_figure((10, 4.2))
    ax = fig.add_axes((0.07, 0.12, 0.68, 0.78))
    dominance_areas(ax, time, relative, labels, phase)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel("time")
    save_figure(fig, stem)
    return [stem.with_suffix(".png"), stem.with_suffix(".svg")]


def write_fan_figure(stem: Path, time, stats: dict, title: str) -> list[Path]:
    """One panel per loop: ``stats[loop] = (quantiles, share)`` from the ensemble."""
    loops = list(stats)
    cols = 2
    rows = max(1, -(-len(loops) // cols))
    fig = new_figure((10, 2.3 * rows + 0.6))
    for i, (loop, colour) in enumerate(zip(loops, distinct_colours(len(loops)))):
        ax = fig.add_subplot(rows, cols, i + 1)
        quantiles, share = stats[loop]
        dominance_fan(ax, time, quantiles, share, colour, loop)
    fig.suptitle(f"{title}: relative loop score (5-95%, 25-75%, median) and share of runs dominant (dashed)",
                 fontsize=10)
    fig.tight_layout()
    save_figure(fig, stem)
    return [stem.with_suffix(".png"), stem.with_suffix(".svg")]
