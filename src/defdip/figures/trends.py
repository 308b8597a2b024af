"""Figure of the trend analysis: fitted trends and their bands against the simulated baseline.

Plotting only: takes fitted trends (:class:`defdip.analysis.trends.TrendFit`), the points
they were fitted to and, where the model has the same quantity, the simulated
baseline.
"""
from __future__ import annotations

import numpy as np

from defdip.analysis.trends import HORIZON, predict
from defdip.core.case import RECORD_WINDOW
from defdip.figures.plotting import PALETTE, new_figure

FIT_COLOUR = PALETTE[1]
SIM_COLOUR = PALETTE[0]


def plot_trend(ax, title: str, years, values, fit, unit: str = "", simulated=None, points_label="data"):
    """One panel: the points fitted, the chosen trend to the horizon with its 95 % band, the simulation.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    title : str
    years, values : array
        The points the trend was fitted to.
    fit : defdip.analysis.trends.TrendFit or None
    unit : str
        Y-axis label.
    simulated : tuple (time, values), optional
        The simulated baseline to draw over the whole horizon.
    points_label : str
        Legend label of the points.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax.axvspan(years[0], years[-1], color="0.93", lw=0, zorder=0)
    if simulated is not None:
        ax.plot(*simulated, color=SIM_COLOUR, lw=1.8, label="simulated baseline", zorder=3)
    hollow = points_label.startswith("simulated")  # model points, not observations
    ax.plot(years, values, "o", ms=4.5, color="black", mfc="white" if hollow else "black", label=points_label,
            zorder=4)
    if fit is not None:
        grid = np.linspace(years[0], HORIZON, 200)
        mean, low, high = predict(fit, grid)
        ax.fill_between(grid, low, high, color=FIT_COLOUR, alpha=0.18, lw=0, label="95% prediction band",
                        zorder=1)
        ax.plot(grid, mean, color=FIT_COLOUR, lw=1.6, ls="--", label=f"{fit.form} trend (AICc)", zorder=2)
    top = np.nanmax(np.abs(values)) if len(values) else 1.0
    if simulated is not None:
        top = max(top, float(np.nanmax(np.abs(simulated[1]))))
    ax.set_ylim(-0.25 * top if np.nanmin(values) >= 0 else None, 1.6 * top)
    ax.set_xlim(min(years[0], RECORD_WINDOW[0]), HORIZON)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(unit)
    return ax


def figure_trends(panels, title: str = "Trend analysis (article's method) against the simulated baseline"):
    """A grid of :func:`plot_trend` panels.

    Parameters
    ----------
    panels : list of dict
        Keyword arguments of :func:`plot_trend` (without ``ax``), one per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    cols = 3
    rows = int(np.ceil(len(panels) / cols))
    fig = new_figure((14, 3.3 * rows + 1.2))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, panel in zip(axes, panels):
        plot_trend(ax, **panel)
    for ax in axes[len(panels):]:
        ax.axis("off")
    for ax in axes[-cols:]:
        ax.set_xlabel("Year")
    handles = {}
    for ax in axes[:len(panels)]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            key = "trend (form chosen by AICc)" if label.endswith("trend (AICc)") else label
            handles.setdefault(key, h)
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=len(handles),
               frameon=False, fontsize=9)
    fig.suptitle(f"{title}; grey: years fitted", fontsize=12, x=0.01, ha="left")
    fig.subplots_adjust(left=0.06, right=0.975, top=1 - 0.8 / fig.get_figheight(),
                        bottom=0.9 / fig.get_figheight(), hspace=0.45, wspace=0.22)
    return fig
