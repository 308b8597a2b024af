"""Figures of scenario discovery: PRIM's trade-off curve and a box's limits.

- :func:`tradeoff_curve` -- coverage against density for every step of the peeling and
  pasting trajectory, coloured by the number of restricted constants, the reported box
  ringed;
- :func:`box_limits` -- for each constant a box restricts, the box's limits against the
  range the constant was sampled over (on a 0-1 scale of that range), the limits in the
  constant's units at the ends and the quasi-p-value of each restricted side.

Each takes data and an ``ax`` and returns the axes; :func:`discovery_figures` composes
them. Nothing here runs a model or an analysis.
"""
from __future__ import annotations

import numpy as np

from defdip.analysis.discovery import QP_SIGNIFICANT, case_leaves
from defdip.figures.plotting import PALETTE, new_figure


def tradeoff_curve(ax, tradeoff, chosen: int | None = None, title: str = ""):
    """Coverage (x) against density (y) per trajectory step, coloured by restricted dimensions.

    Parameters
    ----------
    tradeoff : pandas.DataFrame
        Columns ``step, coverage, density, res_dim`` (:class:`defdip.analysis.discovery.Discovery`).
    chosen : int, optional
        The step to ring and label.
    """
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm

    dims = tradeoff["res_dim"].to_numpy(int)
    top = max(int(dims.max()), 1)
    norm = BoundaryNorm(np.arange(-0.5, top + 1.5), colormaps["viridis"].N)
    # the line joins the peeling and pasting steps only: a dropped restriction branches off it
    drops = tradeoff["dropped"].fillna("").astype(bool) if "dropped" in tradeoff else np.zeros(len(dims), bool)
    peeled = tradeoff[~drops]
    ax.plot(peeled["coverage"], peeled["density"], color="#bbbbbb", lw=0.8, zorder=1)
    points = ax.scatter(peeled["coverage"], peeled["density"], c=dims[~drops], cmap="viridis", norm=norm,
                        s=26, zorder=2, edgecolors="none")
    if drops.any():
        ax.scatter(tradeoff.loc[drops, "coverage"], tradeoff.loc[drops, "density"], c=dims[drops], cmap="viridis",
                   norm=norm, s=40, marker="D", zorder=2, edgecolors="black", linewidths=0.5,
                   label="a restriction dropped as possibly chance")
        ax.legend(fontsize=8, loc="lower left", frameon=False)
    colourbar = ax.figure.colorbar(points, ax=ax, ticks=range(0, top + 1, max(1, (top + 1) // 10)))
    colourbar.set_label("restricted constants", fontsize=9)
    if chosen is not None:
        row = tradeoff[tradeoff["step"] == chosen].iloc[0]
        ax.scatter([row["coverage"]], [row["density"]], s=160, facecolors="none", edgecolors="black", lw=1.4,
                   zorder=3)
        ax.annotate(f"step {chosen}: coverage {row['coverage']:.2f}, density {row['density']:.2f}, "
                    f"{int(row['res_dim'])} restricted", (row["coverage"], row["density"]), xytext=(-12, -4),
                    textcoords="offset points", fontsize=8, ha="right", va="top")
    ax.set_xlabel("coverage (share of all cases inside the box)", fontsize=9)
    ax.set_ylabel("density (share of the box's runs that are cases)", fontsize=9)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(max(0.0, float(tradeoff["density"].min()) - 0.05), 1.02)
    ax.grid(alpha=0.3, lw=0.5)
    ax.set_title(title, fontsize=10, loc="left")
    return ax


def box_limits(ax, limits, title: str = "", colour: str = PALETTE[0]):
    """The restricted constants' limits against their sampled ranges (0 = low end, 1 = high end).

    Parameters
    ----------
    limits : pandas.DataFrame
        Indexed by constant, columns ``low, high, range_low, range_high, restricted,
        low_restricted, high_restricted, qp_low, qp_high``.
    """
    rows = limits[limits["restricted"]]
    if rows.empty:
        ax.text(0.5, 0.5, "the box restricts no constant", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    y = np.arange(len(rows))[::-1]
    width = (rows["range_high"] - rows["range_low"]).to_numpy(float)
    width = np.where(width > 0, width, 1.0)
    low = (rows["low"].to_numpy(float) - rows["range_low"].to_numpy(float)) / width
    high = (rows["high"].to_numpy(float) - rows["range_low"].to_numpy(float)) / width
    ax.barh(y, np.ones(len(rows)), left=0.0, height=0.5, color="#e6e6e6", zorder=1)
    ax.barh(y, high - low, left=low, height=0.5, color=colour, zorder=2)
    for yi, lo, hi, (_, row) in zip(y, low, high, rows.iterrows()):  # only the restricted sides are labelled
        if row["low_restricted"]:
            ax.text(lo - 0.01, yi, f"{row['low']:.3g}{_qp(row['qp_low'])}", ha="right", va="center", fontsize=7)
        if row["high_restricted"]:
            ax.text(hi + 0.01, yi, f"{row['high']:.3g}{_qp(row['qp_high'])}", ha="left", va="center", fontsize=7)
    ax.set_yticks(y, [f"{name}\n[{r['range_low']:.3g}, {r['range_high']:.3g}]" for name, r in rows.iterrows()],
                  fontsize=8)
    ax.set_xlim(-0.35, 1.35)
    ax.set_xticks([0, 0.5, 1], ["low end", "middle", "high end"], fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    return ax


def _qp(value) -> str:
    """The quasi-p-value after a limit, flagged when the restriction may be chance."""
    if value is None or np.isnan(value):
        return ""
    flag = "" if value <= QP_SIGNIFICANT else " (n.s.)"
    return f" (qp {value:.1g}){flag}"


def discovery_figures(prim=None, cart=None, title: str = "") -> dict:
    """``{"tradeoff": fig, "box_limits": fig}`` from PRIM's and CART's results (either may be None)."""
    figures = {}
    if prim is not None:
        fig = new_figure((8.5, 5.5))
        tradeoff_curve(fig.subplots(), prim.tradeoff, prim.chosen,
                       f"{title} -- PRIM peeling and pasting trajectory, cases: {prim.where}")
        fig.subplots_adjust(left=0.1, right=0.97, top=0.92, bottom=0.1)
        figures["tradeoff"] = fig
    panels = []
    if prim is not None:
        row = prim.tradeoff[prim.tradeoff["step"] == prim.chosen].iloc[0]
        panels.append((prim.box(), (f"PRIM box (step {prim.chosen}): coverage {row['coverage']:.2f}, "
                                   f"density {row['density']:.2f}"), PALETTE[0]))
    if cart is not None:
        leaves = case_leaves(cart.tradeoff)
        if not leaves.empty:
            row = leaves.iloc[0]
            panels.append((cart.box(int(row["step"])), (f"CART leaf {int(row['step'])} (largest of cases): "
                                                        f"coverage {row['coverage']:.2f}, density "
                                                        f"{row['density']:.2f}"), PALETTE[1]))
    if panels:
        height = max(2.5, 0.45 * max(int(p[0]["restricted"].sum()) for p in panels) + 1.5)
        fig = new_figure((7.5 * len(panels), height))
        axes = np.atleast_1d(fig.subplots(1, len(panels)))
        for ax, (limits, label, colour) in zip(axes, panels):
            box_limits(ax, limits, label, colour)
        fig.suptitle(f"{title} -- box limits against each constant's range; cases: "
                     f"{(prim or cart).where}", fontsize=10, x=0.01, ha="left")
        fig.subplots_adjust(left=0.2 if len(panels) == 1 else 0.12, right=0.97, top=0.84, bottom=0.12,
                            wspace=0.55)
        figures["box_limits"] = fig
    return figures
