"""Figures of a sweep. Each plotting function takes data and an ``ax`` and returns the axes.

- :func:`fan_chart` -- median with 50/75/95/100% bands over runs, the deterministic run on top;
- :func:`tornado` -- oat swings of one outcome;
- :func:`sobol_bars` / :func:`morris_bars` -- indices with confidence intervals;
- :func:`not_informative` -- the words instead, for an outcome whose indices say nothing;
- :func:`transition_histogram` and :func:`strategic_probability` -- when the strategic
  phase arrives, across runs.

:func:`write_figures` composes them into a sweep folder's PNG and SVG files. Nothing
here runs a model.
"""
from __future__ import annotations

from pathlib import Path
from textwrap import fill

import numpy as np

from defdip.analysis.outcomes import persistence_of, sentinel
from defdip.core.case import FAN_VARIABLES, PHASE, PHASE_LABELS
from defdip.core.model import model_info
from defdip.figures.plotting import (
    PALETTE,
    PHASE_COLOURS,
    new_figure,
    save_figure,
    shade_phases,
)
from defdip.sweep.report import default_persistence, index_notes

FAN_COLOUR = PALETTE[0]
# Coverage -> (lower, upper) quantile, widest first so narrower bands are drawn on top.
BANDS = ((100, 0.0, 1.0), (95, 0.025, 0.975), (75, 0.125, 0.875), (50, 0.25, 0.75))
BAND_ALPHA = {100: 0.12, 95: 0.22, 75: 0.34, 50: 0.5}
MAX_BARS = 12
MAX_PANELS = 4


def fan_chart(ax, time, quantiles, levels, deterministic=None, deterministic_time=None,
              colour: str = FAN_COLOUR, label: str = ""):
    """Median and percentile bands of one variable over the runs of a sweep.

    Parameters
    ----------
    ax : matplotlib Axes
    time : array (times,) [Year]
    quantiles : array (len(levels), times)
        The variable's quantiles over runs at each time.
    levels : sequence of float
        The quantile levels of the rows of ``quantiles`` (must include those of the bands).
    deterministic : array, optional
        The scenario's own run, drawn as a dashed black line.
    deterministic_time : array, optional [Year]
        Its times (default ``time``).
    label : str
        Panel title.
    """
    levels = [round(float(q), 6) for q in levels]
    row = {q: quantiles[i] for i, q in enumerate(levels)}
    for coverage, low, high in BANDS:
        if low in row and high in row:
            ax.fill_between(time, row[low], row[high], color=colour, alpha=BAND_ALPHA[coverage], lw=0,
                            label=f"{coverage}% of runs")
    ax.plot(time, row[0.5], color=colour, lw=2, label="median")
    if deterministic is not None:
        ax.plot(time if deterministic_time is None else deterministic_time, deterministic, color="black",
                lw=1.3, ls="--", label="scenario run")
    ax.set_title(label, fontsize=10, loc="left")
    ax.set_xlim(time[0], time[-1])
    return ax


def tornado(ax, swings, label: str = "", units: str = ""):
    """One-at-a-time swings: the outcome with each constant at its low and its high end.

    Parameters
    ----------
    swings : pandas.DataFrame
        :func:`defdip.analysis.sensitivity.oat_swings` rows of one outcome.
    """
    wide = swings.pivot_table(index="parameter", columns="index", values="value", aggfunc="first")
    wide = wide.reindex(wide["swing"].abs().sort_values(ascending=True, kind="stable").index).tail(MAX_BARS)
    base = float(wide["base"].iloc[0]) if len(wide) else 0.0
    y = np.arange(len(wide))
    ax.barh(y, wide["low"] - base, left=base, color=PALETTE[0], height=0.7, label="constant at its low end")
    ax.barh(y, wide["high"] - base, left=base, color=PALETTE[1], height=0.7, alpha=0.85,
            label="constant at its high end")
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(y, wide.index, fontsize=8)
    ax.set_xlabel(f"{label} {f'[{units}]' if units else ''}".strip(), fontsize=9)
    ax.set_title(f"{label} (scenario run: {base:.6g})", fontsize=10, loc="left")
    return ax


def not_informative(ax, label: str, note: str):
    """A panel that says in words why an outcome has no bars, instead of empty axes whose
    limits matplotlib invents (a constant 2025 drew an axis from 1925 to 2125)."""
    ax.set_axis_off()
    ax.set_title(label, fontsize=10, loc="left")
    ax.text(0.0, 0.6, fill(note[0].upper() + note[1:], 60), transform=ax.transAxes, fontsize=9,
            va="top", color="0.3")
    return ax


def _ordered(table, key: str):
    """Rows of ``table`` for index ``key``, largest value first, at most :data:`MAX_BARS`."""
    rows = table[table["index"] == key].set_index("parameter")
    return rows.reindex(rows["value"].fillna(-np.inf).sort_values(ascending=False, kind="stable").index)[:MAX_BARS]


def sobol_bars(ax, table, label: str = ""):
    """First-order (S1) and total (ST) Sobol' indices with their confidence intervals."""
    total = _ordered(table, "ST")
    first = table[table["index"] == "S1"].set_index("parameter").reindex(total.index)
    y = np.arange(len(total))[::-1]
    ax.barh(y + 0.2, total["value"], xerr=total["conf"], height=0.4, color=PALETTE[0], label="total ST",
            error_kw={"lw": 0.8, "capsize": 2})
    ax.barh(y - 0.2, first["value"], xerr=first["conf"], height=0.4, color=PALETTE[4],
            label="first order S1", error_kw={"lw": 0.8, "capsize": 2})
    ax.set_yticks(y, total.index, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("share of variance (whiskers: 95% confidence)", fontsize=9)
    ax.set_title(label, fontsize=10, loc="left")
    return ax


def morris_bars(ax, table, label: str = ""):
    """Morris mu* (with its confidence interval) and sigma per constant."""
    mu_star = _ordered(table, "mu_star")
    sigma = table[table["index"] == "sigma"].set_index("parameter").reindex(mu_star.index)
    y = np.arange(len(mu_star))[::-1]
    ax.barh(y + 0.2, mu_star["value"], xerr=mu_star["conf"], height=0.4, color=PALETTE[0],
            label="mu* (mean |effect|)", error_kw={"lw": 0.8, "capsize": 2})
    ax.barh(y - 0.2, sigma["value"], height=0.4, color=PALETTE[3], label="sigma (interaction, nonlinearity)")
    ax.set_yticks(y, mu_star.index, fontsize=8)
    ax.set_xlabel("mean |effect| over the constant's range [outcome units]", fontsize=9)
    ax.set_title(label, fontsize=10, loc="left")
    return ax


def transition_histogram(ax, years, final_time: float):
    """Runs by transition year (one bar per year) and a bar for "no transition by the end"."""
    years = np.asarray(years, float)
    found = years[~np.isnan(years)]
    first = int(np.floor(found.min())) if len(found) else int(final_time) - 1
    edges = np.arange(first, int(np.ceil(final_time)) + 1)
    counts, _ = np.histogram(found, bins=edges) if len(edges) > 1 else (np.array([]), edges)
    share = 100.0 / max(len(years), 1)
    ax.bar(edges[:-1], counts * share, width=0.9, align="edge", color=PALETTE[2], label="transition in that year")
    none_at = edges[-1] + 1.0
    ax.bar(none_at, np.isnan(years).sum() * share, width=0.9, align="edge", color="0.55",
           label=f"no transition by {final_time:g}")
    step = max(1, int(np.ceil(len(edges) / 8)))
    ticks = [float(t) for t in edges[::step]]
    ax.set_xticks(ticks + [none_at + 0.45], [f"{t:g}" for t in ticks] + ["none"])
    ax.set_xlabel("year the strategic phase begins (and persists) [Year]", fontsize=9)
    ax.set_ylabel("share of runs [%]", fontsize=9)
    ax.set_title("Transition year across runs", fontsize=10, loc="left")
    return ax


def strategic_probability(ax, years, final_time: float, time=None, share=None, start: float | None = None):
    """P(transition by year) across runs, and the share of runs in phase 3 at each time."""
    years = np.asarray(years, float)
    if start is None:
        # From a few years before the first transition: the decades before carry no information.
        found = years[~np.isnan(years)]
        start = (np.floor(found.min()) - 3) if len(found) else final_time - 10
        start = max(start, time[0]) if time is not None else start
    grid = np.linspace(start, final_time, 400)
    p = (years[None, :] <= grid[:, None]).mean(axis=1) * 100  # NaN compares False: never reached
    ax.plot(grid, p, color=PALETTE[2], lw=2, drawstyle="steps-post", label="transition reached by then")
    if time is not None and share is not None:
        shown = np.asarray(time) >= start
        ax.plot(np.asarray(time)[shown], np.asarray(share)[shown] * 100, color=PALETTE[3], lw=1.4, ls="-.",
                label="in phase 3 at that time")
    ax.set_ylim(-2, 102)
    ax.set_xlim(grid[0], grid[-1])
    ax.set_xlabel("Year", fontsize=9)
    ax.set_ylabel("share of runs [%]", fontsize=9)
    ax.set_title("Probability of the strategic phase by year", fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    return ax


# --- composing the sweep's figures -----------------------------------------------------------

def figure_fans(stats, trajectories, names, title: str, units: dict | None = None):
    """Fan charts of ``names`` (one panel each) with the scenario run's phases shaded."""
    from matplotlib.patches import Patch

    names = [n for n in names if n in stats]
    fig = new_figure((10, 2.3 * len(names) + 1.2))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    time = stats["time"].to_numpy()
    levels = stats["quantile"].to_numpy()
    det_time = trajectories.index.to_numpy(float) if trajectories is not None else None
    for ax, name in zip(axes, names):
        if trajectories is not None and PHASE in trajectories:
            shade_phases(ax, det_time, trajectories[PHASE].to_numpy())
        det = trajectories[name].to_numpy(float) if trajectories is not None and name in trajectories else None
        fan_chart(ax, time, stats[name].to_numpy(), levels, det, det_time, label=name)
        unit = (units or {}).get(name, "")
        ax.set_ylabel(f"[{unit}]" if unit else "", fontsize=9)
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes[-1].set_xlabel("Year")
    handles = [Patch(color=c, label=PHASE_LABELS[p]) for p, c in PHASE_COLOURS.items()]
    fig.legend(handles=handles, loc="lower left", ncol=3, frameon=False, fontsize=8,
               title="phase of the scenario run (shaded):", title_fontsize=8, alignment="left")
    fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    h = fig.get_figheight()
    fig.subplots_adjust(left=0.08, right=0.78, top=1 - 0.6 / h, bottom=1.0 / h, hspace=0.3)
    return fig


def figure_indices(table, method: str, outcomes, title: str, units: dict | None = None):
    """One panel per outcome: tornado (oat), S1/ST (sobol) or mu*/sigma (morris)."""
    outcomes = [o for o in outcomes if (table["outcome"] == o).any()][:MAX_PANELS]
    count = max(len(outcomes), 1)
    cols = 2 if count > 1 else 1
    rows = int(np.ceil(count / cols))
    panel_height = 0.3 * min(MAX_BARS, table["parameter"].nunique()) + 1.1
    fig = new_figure((6.4 * cols, panel_height * rows + 1.2))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    draw = {"oat": tornado, "sobol": sobol_bars, "morris": morris_bars}[method]
    notes = index_notes(table)
    for ax, outcome in zip(axes, outcomes):
        part = table[table["outcome"] == outcome]
        if outcome in notes:
            not_informative(ax, outcome, notes[outcome])
        elif method == "oat":
            draw(ax, part, outcome, (units or {}).get(outcome, ""))
        else:
            draw(ax, part, outcome)
    for ax in axes[len(outcomes):]:
        ax.set_visible(False)
    drawn = [ax for ax in axes if ax.patches] or axes[:1]
    handles, labels = drawn[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, fontsize=9)
    fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    h = fig.get_figheight()
    fig.subplots_adjust(left=0.17, right=0.97, wspace=0.6, hspace=0.9 / panel_height + 0.2,
                        top=1 - 0.75 / h, bottom=0.85 / h)
    return fig


def figure_transition(years, final_time: float, title: str, time=None, share=None):
    """Histogram of the transition year beside the probability of the strategic phase by year."""
    fig = new_figure((11, 4.0))
    left, right = fig.subplots(1, 2)
    transition_histogram(left, years, final_time)
    strategic_probability(right, years, final_time, time, share)
    for ax in (left, right):
        ax.legend(fontsize=8, loc="upper left", frameon=False)
    fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    fig.subplots_adjust(left=0.07, right=0.98, top=0.85, bottom=0.14, wspace=0.25)
    return fig


def write_figures(folder: Path, plan, stats, experiments, table, trajectories) -> list[Path]:
    """Draw a sweep's figures into ``folder`` (PNG and SVG); returns the stems written."""

    units = {n: v.units for n, v in model_info(plan.scenario.model).variables.items()}

    none = float(np.max(sentinel(stats["time"].to_numpy(), _persistences(plan), plan.scenario.time.end)))
    kinds = {"transition": f"Year; {none:g} = none", "phase_years": "Year", "strategic_by": "1 yes, 0 no"}
    units.update({o.spec: units.get(o.variable, "") if o.kind == "value" else kinds[o.kind]
                  for o in plan.outcomes})
    what = f"{plan.scenario.name}: {plan.method}, {plan.runs:,} runs, seed {plan.seed}"
    stems = []
    fans = [n for n in FAN_VARIABLES if n in stats] or [n for n in plan.outputs if n in stats][:3]
    fig = figure_fans(stats, trajectories, fans, f"{what} -- median and bands over runs", units)
    stems.append(_save(fig, folder / "fan"))
    if table is not None:
        stem = {"oat": "tornado", "sobol": "sobol", "morris": "morris"}[plan.method]
        heading = {"oat": "one at a time (low and high end of each constant)",
                   "sobol": "Sobol' indices", "morris": "Morris screening"}[plan.method]
        fig = figure_indices(table, plan.method, [o.spec for o in plan.outcomes], f"{what} -- {heading}", units)
        stems.append(_save(fig, folder / stem))
    transition = [o.spec for o in plan.outcomes if o.kind == "transition"]
    if transition:
        share = stats.get("share of runs in the strategic phase")
        fig = figure_transition(experiments[transition[0]].to_numpy(float), plan.scenario.time.end, what,
                                stats["time"].to_numpy(), None if share is None else share.to_numpy())
        stems.append(_save(fig, folder / "transition"))
    return stems


def _persistences(plan):

    return persistence_of(plan.table, default_persistence(plan.scenario))


def _save(fig, stem: Path) -> Path:
    save_figure(fig, stem)
    return stem
