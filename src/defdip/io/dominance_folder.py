"""``defdip dominance``'s result folder: scores, periods, summary and figure, written atomically.

``OUT/<scenario>/``: ``dominance.csv`` (time, loop, polarity, partition, loop score, relative
score, dominant), ``periods.csv`` (partition, start, end, dominant loops), ``loops.csv`` (every
scored loop with its variables), ``links.csv`` (every causal link's score over time),
``summary.json``, ``dominance.png``/``.svg`` and ``manifest.json``.
"""
from __future__ import annotations

import time as _time
from pathlib import Path

import numpy as np

from defdip.analysis.dominance import Dominance, dominance, select_loops
from defdip.analysis.ltm import HALF
from defdip.core.case import PHASE
from defdip.core.scenario import Scenario
from defdip.engines.simulate import simulate
from defdip.figures.dominance import write_dominance_figure
from defdip.io.folders import atomic_folder, check_writable, write_json
from defdip.io.provenance import provenance

CONTRAST_YEARS = 2.0  # [Year] how far before a transition the elements' loops are compared

CONVENTIONS = {
    "formulas": "Schoenberg, Hayward & Eberlein (2023), System Dynamics Review 39(2): link score "
                "|dx z / dz| sign(dx z / dx); flows aggregated into each stock's net flow; loop score = product "
                "of link scores; relative score within the cycle partition",
    "interval": "the score at saved time t is over [t, t + dt] (Stella's labelling; pysimlin labels it t + dt); "
                "NaN at the last saved time",
    "dominant_set": f"smallest set of same-polarity loops of a partition whose relative scores sum to at least "
                    f"{HALF}; the polarity explaining more wins",
}


def dominance_to_folder(scenario: Scenario, out_dir: Path, loops="named", force: bool = False,
                        command_line=None) -> Path:
    """Score one scenario's loops and write ``OUT_DIR/<scenario name>``.

    Parameters
    ----------
    scenario : Scenario
    out_dir : Path
    loops : {"named", "all"} or int
        Which loops ``dominance.csv`` and the figure report (see
        :func:`defdip.analysis.dominance.select_loops`); ``loops.csv`` lists all.
    force : bool
        Replace an earlier result.

    Returns
    -------
    Path
    """
    target = Path(out_dir) / scenario.name
    check_writable(target, force, kind="dominance")
    started = _time.perf_counter()
    result = dominance(scenario)
    selected = select_loops(result, loops)
    phase = _phase(scenario)
    with atomic_folder(target, force, kind="dominance") as work:
        write_tables(work, result, selected)
        summary = summary_of(result, selected)
        window = contrast_window(scenario, result.time)
        if window is not None:
            contrast = result.by_element(window)
            contrast.to_csv(work / "elements.csv", index=False, float_format="%.6g")
            summary["elements"] = {"window": list(window), "window_rule": WINDOW_RULE,
                                   "loops": _contrast_summary(contrast)}
        write_json(work / "summary.json", summary)
        labels = {result.loops.ids[i]: result.loops.ids[i] for i in selected if result.loops.named[i]}
        relative = {result.loops.ids[i]: result.relative_score[i, 0] for i in selected
                    if result.loops.partition[i] == summary["main_partition"]}
        write_dominance_figure(work / "dominance", result.time, relative, labels,
                               f"{scenario.name}: relative loop scores (partition {summary['main_partition']})",
                               phase)
        write_json(work / "manifest.json", provenance(scenario, "ensemble", command_line,
                                                      dt=scenario.time.dt,
                                                      wall_time_s=round(_time.perf_counter() - started, 3)))
    return target


def write_tables(folder: Path, result: Dominance, selected) -> None:
    """dominance.csv, periods.csv, loops.csv and links.csv of one run."""
    result.table(0, selected).to_csv(folder / "dominance.csv", index=False, float_format="%.10g")
    result.periods(0).to_csv(folder / "periods.csv", index=False, float_format="%.10g")
    result.loop_table(0).to_csv(folder / "loops.csv", index=False, float_format="%.6g")
    result.links(0).to_csv(folder / "links.csv", float_format="%.10g")


def summary_of(result: Dominance, selected) -> dict:
    """What ``summary.json`` holds: discovery, partitions, the named loops and the dominance periods."""
    table = result.loop_table(0)
    partitions = result.loops.partition
    main = int(np.bincount(partitions).argmax()) if len(partitions) else 0
    named = {}
    for i in np.flatnonzero([bool(n) for n in result.loops.named]):
        row = table.iloc[i]
        named[row["loop"]] = {"polarity": row["polarity"], "partition": int(row["partition"]),
                              "variables": row["variables"], "mean_abs_relative": _num(row["mean_abs_relative"]),
                              "share_dominant": _num(row["share_dominant"])}
    return {"scenario": result.scenario.name, "discovery": result.loops.discovery,
            "loops_scored": len(result.loops.ids), "loops_reported": len(selected),
            "links_scored": len(result.link_score), "partitions": len(set(partitions.tolist())),
            "main_partition": main, "named_loops": named, "named_loops_not_found": result.loops.unmatched,
            "periods": result.periods(0).to_dict(orient="records"), "conventions": CONVENTIONS}


WINDOW_RULE = (f"the {CONTRAST_YEARS:g} years before the first element's transition to the strategic phase "
               "(the whole run when none turns strategic)")


def contrast_window(scenario: Scenario, time: np.ndarray) -> tuple[float, float] | None:
    """The window in which a subscripted phase's elements are compared (:data:`WINDOW_RULE`);
    ``None`` for a model without a phase per element."""
    from defdip.analysis.phases import transition_year
    from defdip.core.model import model_info

    variables = model_info(scenario.model).variables
    if PHASE not in variables or len(variables[PHASE].columns) < 2:
        return None
    frame = simulate(scenario, "ensemble").trajectories
    years = [transition_year(frame.index.to_numpy(float), frame[c].to_numpy(float))
             for c in variables[PHASE].columns]
    years = [y for y in years if y is not None]
    if not years:
        return float(time[0]), float(time[-1])
    first = min(years)
    return max(float(time[0]), first - CONTRAST_YEARS), first


def _contrast_summary(contrast) -> dict:
    """Loop -> element -> the mean over the loop's variants (munitions, channels) and their number."""
    out: dict = {}
    for (loop, element), group in contrast.groupby(["loop", "element"], sort=False):
        out.setdefault(loop, {})[element] = {
            "mean_abs_relative": _num(group["mean_abs_relative"].mean()),
            "mean_loop_score": _num(group["mean_loop_score"].mean()), "variants": len(group)}
    return out


def _num(x):
    x = float(x)
    return None if np.isnan(x) else round(x, 6)


def _phase(scenario: Scenario):
    """The scenario's phase at the saved times, when its model has one (for shading)."""
    from defdip.core.model import model_info

    variables = model_info(scenario.model).variables
    if PHASE not in variables or len(variables[PHASE].columns) > 1:
        return None  # none, or one per element: the figure shades a single phase
    return simulate(scenario, "ensemble").trajectories[PHASE].to_numpy(float)
