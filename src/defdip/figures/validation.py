"""Figures of the fit to history: model against SIPRI with the dated events, calibration before/after.

Plotting only: every function takes numbers already computed (by :mod:`defdip.validation.validate` or
:mod:`defdip.validation.calibrate`) and returns a figure or axes.
"""
from __future__ import annotations

import numpy as np

from defdip.core.case import CUMULATIVE_RI, IR_FLOW
from defdip.figures.plotting import PALETTE, new_figure
from defdip.validation.validate import EVENTS, annual_values, history_fit

OBSERVED_COLOUR = "#999999"
UNITS = "Million/Year (SIPRI TIV)"


def decimal_year(date: str) -> float:
    """``"2016-10"`` or ``"2025-09-28"`` -> decimal year (mid-month when no day is given)."""
    parts = [int(p) for p in date.split("-")]
    year, month, day = (parts + [6, 15])[:3] if len(parts) == 1 else (parts + [15])[:3]
    return year + (month - 1) / 12 + (day - 1) / 365


def plot_record(ax, years, observed, series: dict, colours=PALETTE):
    """SIPRI bars and simulated annual values as lines with markers; returns ``ax``."""
    ax.bar(years, observed, width=0.7, color=OBSERVED_COLOUR, label="SIPRI Russia→Iran (observed)", zorder=1)
    for i, (label, (sim_years, values)) in enumerate(series.items()):
        ax.plot(sim_years, values, marker="os"[i % 2], ms=4, lw=1.6, ls=("-", "--")[i % 2], color=colours[i],
                label=label, zorder=3)
    ax.set_ylabel(f"annual deliveries [{UNITS}]")
    ax.set_xlabel("year")
    ax.grid(axis="y", alpha=0.3)
    return ax


def mark_events(ax, events):
    """Dashed vertical lines at ``(label, decimal year)`` with numbered tags; returns ``ax``."""
    top = ax.get_ylim()[1]
    previous = -np.inf
    for i, (label, year) in enumerate(events, 1):
        ax.axvline(year, color="#555555", ls="--", lw=0.8, zorder=2)
        # events days apart (snapback, treaty) would print their tags on top of each other
        height = top * (0.9 if year - previous < 0.5 else 0.98)
        previous = year
        ax.text(year, height, str(i), ha="center", va="top", fontsize=8,
                bbox=dict(boxstyle="circle,pad=0.15", fc="white", ec="#555555", lw=0.6))
    return ax


def figure_model_vs_data(fit: dict, annual_simulated: tuple, iran_to_russia: tuple, events, stats: str):
    """Model against the record: Russia->Iran annual values, Iran->Russia flow, event markers.

    Parameters
    ----------
    fit : dict
        :func:`defdip.validation.validate.history_fit` output (``years``, ``observed``).
    annual_simulated : (years, values)
        Simulated annual Russia->Iran deliveries over a longer span [Million/Year].
    iran_to_russia : (time, values)
        Simulated Arms Transfers Iran to Russia [Million/Year].
    events : sequence of (label, decimal year)
    stats : str
        Fit statistics printed in the panel.
    """
    fig = new_figure((10, 5.4))
    ax = fig.add_axes((0.08, 0.33, 0.88, 0.6))
    plot_record(ax, fit["years"], fit["observed"], {"model Russia→Iran (baseline)": annual_simulated})
    ax.plot(*iran_to_russia, color=PALETTE[1], lw=1.4, label="model Iran→Russia (flow)")
    ax.set_xlim(2009.3, max(annual_simulated[0]) + 0.7)
    mark_events(ax, events)
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.74), frameon=False, fontsize=9)
    ax.text(0.99, 0.9, stats, transform=ax.transAxes, ha="right", va="top", fontsize=9,
            bbox=dict(fc="white", ec="#cccccc"))
    ax.set_title("Behaviour reproduction: model against SIPRI and the dated events", fontsize=11)
    lines = [f"{i}  {label}" for i, (label, _) in enumerate(events, 1)]
    half = (len(lines) + 1) // 2  # two columns, so eight or more events fit under the panel
    fig.text(0.08, 0.22, "dated events (events.csv):", va="top", fontsize=8.5)
    for column, x in ((lines[:half], 0.08), (lines[half:], 0.52)):
        fig.text(x, 0.18, "\n".join(column), va="top", fontsize=8.5)
    return fig


def figure_calibration(years, observed, before: tuple, after: tuple, costs: tuple[float, float]):
    """SIPRI bars with the simulated annual values before and after calibration."""
    fig = new_figure((9, 4.6))
    ax = fig.add_axes((0.09, 0.13, 0.88, 0.77))
    plot_record(ax, years, observed, {f"before (cost {costs[0]:.3g})": before,
                                      f"after calibration (cost {costs[1]:.3g})": after},
                colours=(PALETTE[0], PALETTE[2]))
    ax.legend(loc="upper right", frameon=False, fontsize=9)
    ax.set_title("Calibration: annual Russia→Iran deliveries before and after", fontsize=11)
    ax.set_xticks(np.arange(min(years), max(after[0]) + 1, 2))
    return fig


def model_vs_data(frame):
    """:func:`figure_model_vs_data` for one run's trajectories (normally the baseline)."""

    fit = history_fit(frame)
    years = list(range(2010, int(frame.index[-1])))
    annual = annual_values(frame.index, frame[CUMULATIVE_RI], years)
    ir = frame[IR_FLOW]
    stats = (f"2010-2021: R² {fit['r2']:.2f} (without 2016 {fit['r2_without_spike']:.2f}), "
             f"MAPE {fit['mape']:.0f}%\n"
             f"Theil U^M {fit['theil_um']:.2f}, U^S {fit['theil_us']:.2f}, U^C {fit['theil_uc']:.2f}\n"
             f"total 2010-21: {fit['cumulative']:.0f} (SIPRI {fit['cumulative_observed']:.0f}); "
             f"2010-24: {fit['cumulative_2010_2024']:.0f} (article {fit['cumulative_target']:.0f})")
    events = [(e.name.split(":")[0], decimal_year(e.date)) for e in EVENTS]
    seen = {}
    for label, year in events:  # two tests share one date: mark it once
        seen.setdefault(year, label)
    return figure_model_vs_data(fit, (years, annual), (ir.index, ir.to_numpy()),
                                [(lab, y) for y, lab in seen.items()], stats)
