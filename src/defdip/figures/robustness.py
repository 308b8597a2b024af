"""The verdict as a function of its definition: one column per family of definitions.

Top row: the transition year (a scenario's, or a sweep's median with its 5-95% range),
"none" drawn above the horizon. Bottom row: P(strategic by 2030) and P(strategic by 2035)
[share of runs; 0 or 1 for a single run]. The scenario's own definition is marked in each
column, so a reviewer sees at a glance how far the verdict moves. Plotting only.
"""
from __future__ import annotations

import numpy as np

from defdip.core.case import VERDICT_YEARS
from defdip.figures.plotting import PALETTE, new_figure

YEAR_COLOUR, BAND_COLOUR, REFERENCE_COLOUR = PALETTE[0], "#c6dbef", PALETTE[1]
P_COLOURS = (PALETTE[2], PALETTE[3])


def _positions(rows) -> tuple[np.ndarray, list[str] | None]:
    """x of each definition: the value on a numeric axis (threshold), else its place in a row of categories."""
    if len(rows) > 4:
        return rows["value"].to_numpy(float), None
    return np.arange(len(rows), dtype=float), list(rows["definition"])


def transition_panel(ax, rows, final_time: float, label: str = "", earliest: float | None = None):
    """Transition year per definition of one family; ``none`` above ``final_time``."""
    x, categories = _positions(rows)
    none = final_time + 1.0
    median = rows["transition_year"].to_numpy(float)
    shown = np.where(np.isnan(median), none, median)
    if rows["runs"].max() > 1:
        low = np.where(np.isnan(rows["transition_p5"].to_numpy(float)), none, rows["transition_p5"])
        high = np.where(np.isnan(rows["transition_p95"].to_numpy(float)), none, rows["transition_p95"])
        if categories is None:
            ax.fill_between(x, low, high, color=BAND_COLOUR, step="mid", label="5-95% of runs", lw=0)
        else:
            ax.vlines(x, low, high, color=BAND_COLOUR, lw=6, label="5-95% of runs")
    style = {"drawstyle": "steps-mid", "lw": 1.6} if categories is None else {"ls": "none"}
    ax.plot(x, shown, marker="o" if categories is not None else None, ms=6, color=YEAR_COLOUR,
            label="median" if rows["runs"].max() > 1 else "transition year", **style)
    _mark_reference(ax, rows, x, shown)
    ax.axhline(final_time, color="#999999", lw=0.8, ls=":")
    ax.text(x.min() if categories is None else -0.4, none, "none", va="center", fontsize=8, color="#555555")
    bottom = min(float(np.nanmin(shown)), final_time) if earliest is None else earliest
    ax.set_ylim(bottom - 1.0, none + 0.6)
    _categories(ax, categories)
    ax.set_title(label, fontsize=10, loc="left")
    return ax


def probability_panel(ax, rows):
    """P(strategic by each verdict year) per definition of one family."""
    x, categories = _positions(rows)
    for k, (colour, year) in enumerate(zip(P_COLOURS, VERDICT_YEARS)):
        y = rows[f"p_strategic_by_{year}"].to_numpy(float)
        # the years often agree: dashes (lines) or a sideways offset (markers) keep both visible
        if categories is None:
            ax.plot(x, y, color=colour, label=f"P(strategic by {year})", drawstyle="steps-mid",
                    lw=2.4 - k, ls="-" if k == 0 else "--")
        else:
            ax.plot(x + 0.1 * (k - 0.5), y, color=colour, label=f"P(strategic by {year})", ls="none",
                    marker="s", ms=6)
    reference = rows["reference"].to_numpy(bool)
    for xi in x[reference]:
        ax.axvline(xi, color=REFERENCE_COLOUR, lw=1, ls="--")
    ax.set_ylim(-0.05, 1.05)
    _categories(ax, categories)
    return ax


def _mark_reference(ax, rows, x, shown) -> None:
    reference = rows["reference"].to_numpy(bool)
    if reference.any():
        ax.plot(x[reference], shown[reference], marker="D", ms=8, ls="none", mfc="none", mec=REFERENCE_COLOUR,
                mew=1.6, label="the scenario's definition")
        for xi in x[reference]:
            ax.axvline(xi, color=REFERENCE_COLOUR, lw=1, ls="--")


def _categories(ax, categories) -> None:
    if categories is not None:
        ax.set_xticks(range(len(categories)), [c.replace(" ", "\n", 1) for c in categories], fontsize=8)
        ax.set_xlim(-0.6, len(categories) - 0.4)


def figure_robustness(table, families, final_time: float, title: str):
    """The whole figure: transition year (top) and P(strategic by year) (bottom) per family.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`defdip.analysis.robustness.evaluate_definitions`'s table.
    families : sequence of str
        Column order.
    final_time : float [Year]
        The runs' horizon; "none" is drawn above it.
    """
    present = [f for f in families if (table["family"] == f).any()]
    years = table[["transition_year", "transition_p5"]].to_numpy(float)
    earliest = float(np.nanmin(years)) if np.any(~np.isnan(years)) else final_time  # one year axis for all
    fig = new_figure((4.0 * len(present), 6.8))
    axes = np.asarray(fig.subplots(2, len(present), squeeze=False))
    for column, family in enumerate(present):
        rows = table[table["family"] == family]
        transition_panel(axes[0, column], rows, final_time, family, earliest)
        probability_panel(axes[1, column], rows)
        if column == 0:
            axes[0, 0].set_ylabel("transition year [Year]", fontsize=9)
            axes[1, 0].set_ylabel("share of runs", fontsize=9)
        if len(rows) > 4:
            axes[1, column].set_xlabel(f"{family} [value]", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="lower left", frameon=False)
    axes[1, 0].legend(fontsize=7, loc="lower left", frameon=False)
    fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    fig.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.11, wspace=0.28, hspace=0.3)
    return fig
