"""``defdip robustness``'s result folder: the verdict under every definition, written atomically.

The target is a scenario file (one run per definition) or a finished sweep folder (its
whole sample re-run per definition, so P(strategic by year) is over the sweep's runs).
``OUT/<name>-robustness`` gets ``robustness.csv`` (one row per definition,
:data:`defdip.analysis.robustness.COLUMNS`), ``robustness.png/.svg`` and ``summary.json``
(the reference verdict, the range of the verdict per family, notes, provenance).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.analysis.robustness import (
    DEFAULT_THRESHOLD_STEP,
    FAMILIES,
    definitions,
    evaluate_definitions,
)
from defdip.core.case import VERDICT_YEARS
from defdip.core.errors import InputError
from defdip.core.model import file_hash
from defdip.core.scenario import (
    Scenario,
    load_scenario,
    scenario_from_model,
    scenario_record,
)
from defdip.figures.plotting import save_figure
from defdip.figures.robustness import figure_robustness
from defdip.io.discovery_folder import read_sweep
from defdip.io.folders import atomic_folder, check_writable, write_json
from defdip.io.provenance import versions


def load_target(path) -> tuple[Scenario, pd.DataFrame | None, str]:
    """``(scenario, samples or None, name)`` of a scenario file or a sweep folder.

    Raises
    ------
    InputError
        For a path that is neither, or a sweep whose scenario file has changed since it ran.
    """
    path = Path(path)
    if path.is_dir():
        tables = read_sweep(path)
        record = tables.identity.get("scenario")
        if not record:
            raise InputError(f"{path}: no sweep.json with the sweep's scenario; is it a folder of `defdip sweep`?")
        scenario = _sweep_scenario(path, record)
        return scenario, tables.samples, path.name
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise InputError(f"{path}: give a scenario file (.yaml) or the result folder of `defdip sweep`")
    scenario = load_scenario(path)
    return scenario, None, scenario.name


def _sweep_scenario(folder: Path, record: dict) -> Scenario:
    source = record.get("source")
    if source and not Path(source).is_file():
        raise InputError(f"{folder}: the sweep's scenario file {source} is gone; robustness re-runs the sweep "
                         "from it")
    scenario = load_scenario(source) if source else scenario_from_model(record["model"])
    if json.loads(json.dumps(scenario_record(scenario), default=str)) != record:
        raise InputError(f"{folder}: the scenario {source or record['model']} changed since the sweep ran; rerun "
                         "the sweep first")
    return scenario


def run_robustness(target, out_dir, force: bool = False, engine: str = "ensemble",
                   threshold_step: float = DEFAULT_THRESHOLD_STEP, command_line=None) -> Path:
    """Evaluate every definition of the strategic phase; write ``OUT_DIR/<name>-robustness``.

    Parameters
    ----------
    target : path
        A scenario file or a finished sweep folder.
    out_dir : path
        Parent of the result folder.
    engine : {"ensemble", "pysd"}
    threshold_step : float [Dmnl]
        Grid of the strategic threshold over its declared range.

    Returns
    -------
    Path
        The result folder.
    """
    scenario, samples, name = load_target(target)
    folder = Path(out_dir) / f"{name}-robustness"
    check_writable(folder, force, kind="robustness")  # refuse before the runs
    compared = definitions(scenario, threshold_step, () if samples is None else tuple(samples.columns))
    table = evaluate_definitions(scenario, compared, samples, engine)
    notes = _notes(samples, scenario)
    kind = "sweep" if samples is not None else "scenario"
    title = f"{scenario.name}: the verdict under each definition of 'strategic' " + \
        (f"({len(samples):,} runs of {name} per definition)" if samples is not None else "(one run per definition)")
    elements = list(dict.fromkeys(table["element"]))
    with atomic_folder(folder, force, kind="robustness") as work:
        table.to_csv(work / "robustness.csv", index=False, float_format="%.10g")
        files = ["robustness.csv"]
        for element in elements:  # one figure per partner of a subscripted phase
            stem = f"robustness-{element}" if element else "robustness"
            rows = table[table["element"] == element]
            save_figure(figure_robustness(rows, FAMILIES, scenario.time.end,
                                          f"{title}: {element}" if element else title), work / stem)
            files += [f"{stem}.png", f"{stem}.svg"]
        by_element = {e: table[table["element"] == e] for e in elements}
        write_json(work / "summary.json", {
            "target": str(target), "kind": kind, "scenario": scenario.name, "engine": engine,
            "runs_per_definition": int(table["runs"].iloc[0]),
            "definitions": len(table) // max(1, len(elements)),
            **({"reference": _reference(table), "range_by_family": _ranges(table)} if elements == [""] else
               {"by_element": {e: {"reference": _reference(t), "range_by_family": _ranges(t)}
                               for e, t in by_element.items()}}),
            "notes": notes, "model_file": str(scenario.model), "model_sha256": file_hash(scenario.model),
            "files": files + ["summary.json"], "versions": versions(), "command_line": list(command_line or [])})
    return folder


def _notes(samples, scenario) -> list[str]:
    notes = [(f"A transition must hold for the persistence before {scenario.time.end:g}, so a longer "
             "persistence can only confirm a transition earlier.")]
    if samples is not None:
        for family in FAMILIES:
            if family in samples.columns:
                notes.append(f"The sweep samples {family!r} ({samples[family].min():.4g} to "
                             f"{samples[family].max():.4g}): its own rows fix it at each value; every other "
                             "row keeps it as sampled.")
    return notes


def _reference(table: pd.DataFrame) -> dict:
    """The verdict under the scenario's own definition (the same in every family that has it)."""
    rows = table[table["reference"]]
    if rows.empty:
        return {}
    row = rows.iloc[0]
    keys = ["transition_year", "share_without_transition", *(f"p_strategic_by_{y}" for y in VERDICT_YEARS)]
    return {k: _num(row[k]) for k in keys}


def _ranges(table: pd.DataFrame) -> dict:
    """Per family: the earliest and latest transition year and the span of each probability."""
    out = {}
    for family, rows in table.groupby("family", sort=False):
        years = rows["transition_year"].to_numpy(float)
        entry = {"definitions": len(rows), "earliest_transition": _num(np.nanmin(years)) if np.any(~np.isnan(years))
                 else None, "definitions_without_transition": [str(d) for d in rows.loc[np.isnan(years),
                                                                                       "definition"]]}
        for year in VERDICT_YEARS:
            p = rows[f"p_strategic_by_{year}"]
            entry[f"p_strategic_by_{year}"] = [_num(p.min()), _num(p.max())]
        out[family] = entry
    return out


def _num(x):
    x = float(x)
    return round(x, 10) if np.isfinite(x) else None
