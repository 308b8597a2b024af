"""``defdip discover``'s result folder: read a sweep folder, find the boxes, write them atomically.

A sweep folder (``defdip sweep``) holds ``samples.csv`` (index ``run``, one column per
sampled constant), ``outcomes.csv`` (the samples joined with one column per outcome) and
``summary.json`` (the outcomes' names and the constants' sampled ranges). The discovery
folder ``OUT/<sweep>-discover`` gets:

``tradeoff.csv``
    PRIM's whole peeling and pasting trajectory (also when no step reaches the threshold),
    then a step per restriction dropped as insignificant: step, coverage, density, mass,
    restricted dimensions, runs and cases in the box, F1, the dropped constant, and which
    step is reported;
``boxes.csv``
    limits per constant of the reported PRIM box and of every CART leaf (``case_leaf``:
    its majority are cases), beside each constant's sampled range, with PRIM's
    quasi-p-values;
``leaves.csv``
    CART's leaves: coverage, density, mass, restricted dimensions;
``summary.json``
    the condition, the counts, both methods' settings and boxes, provenance;
``tradeoff.png/.svg``, ``box_limits.png/.svg``
    the figures (:mod:`defdip.figures.discovery`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.analysis.discovery import case_leaves, discover, require_workbench, summary
from defdip.analysis.outcomes import parse_outcome
from defdip.analysis.where import parse_where
from defdip.core.errors import InputError
from defdip.core.model import model_info
from defdip.core.resources import DEFAULT_MODEL
from defdip.figures.discovery import discovery_figures
from defdip.figures.plotting import save_figure
from defdip.io.folders import atomic_folder, check_writable, write_json
from defdip.io.provenance import versions

SWEEP_FILES = ("samples.csv", "outcomes.csv", "summary.json")
SETTINGS = {"prim": ("threshold", "peel_alpha", "paste_alpha", "mass_min", "step"), "cart": ("mass_min", "seed")}


@dataclass(frozen=True)
class SweepTables:
    """What discovery and robustness read from a sweep folder.

    Attributes
    ----------
    folder : Path
    summary, identity : dict
        ``summary.json`` and ``sweep.json`` (empty if absent).
    samples : pandas.DataFrame
        Index ``run``, one column per sampled constant [its units].
    outcomes : pandas.DataFrame
        Index ``run``, one column per outcome.
    kinds : dict
        Outcome -> its kind (:data:`defdip.analysis.outcomes.KINDS`).
    ranges : dict
        Constant -> (low, high) it was sampled over [its units].
    """

    folder: Path
    summary: dict
    identity: dict
    samples: pd.DataFrame
    outcomes: pd.DataFrame
    kinds: dict
    ranges: dict

    @property
    def booleans(self) -> list[str]:
        """Outcomes that are yes/no (``strategic by YEAR``)."""
        return [o for o, k in self.kinds.items() if k == "strategic_by"]

    @property
    def missing(self) -> dict[str, float]:
        """A transition that never came counts as later than any year."""
        return {o: np.inf for o, k in self.kinds.items() if k == "transition"}


def check_sweep_folder(folder) -> Path:
    """``folder`` as a Path, if it is a finished sweep's result folder.

    Raises
    ------
    InputError
        Naming the folder and the file of a sweep it lacks.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder; give the result folder of `defdip sweep`")
    for name in SWEEP_FILES:
        if not (folder / name).is_file():
            hint = " (an unfinished sweep: rerun its command to finish it)" if folder.name.endswith(".partial") \
                else ""
            raise InputError(f"{folder}: no {name}; is it the result folder of `defdip sweep`?{hint}")
    return folder


def read_sweep(folder) -> SweepTables:
    """Read a finished sweep folder.

    Raises
    ------
    InputError
        When ``folder`` is not a finished sweep folder (naming the missing file).
    """
    folder = check_sweep_folder(folder)
    info = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    identity_file = folder / "sweep.json"
    identity = json.loads(identity_file.read_text(encoding="utf-8")) if identity_file.is_file() else {}
    samples = pd.read_csv(folder / "samples.csv", index_col="run")
    table = pd.read_csv(folder / "outcomes.csv", index_col="run")
    specs = list(info.get("outcomes", {}))
    missing = [s for s in specs if s not in table.columns]
    if missing:
        raise InputError(f"{folder}/outcomes.csv: no column {missing[0]!r}, which summary.json lists")
    ranges = {c["name"]: (float(c["low"]), float(c["high"]))
              for c in info.get("problem", {}).get("constants", []) if c.get("name") in samples.columns}
    return SweepTables(folder, info, identity, samples, table[specs], _kinds(specs, identity), ranges)


def _kinds(specs, identity: dict) -> dict:
    """Each outcome's kind, parsed against the sweep's model (the shipped one if it has moved)."""
    recorded = Path(identity.get("scenario", {}).get("model", "") or DEFAULT_MODEL)
    info = model_info(recorded if recorded.is_file() else DEFAULT_MODEL)
    kinds = {}
    for spec in specs:
        try:
            kinds[spec] = parse_outcome(spec, info).kind
        except InputError:  # a variable the current model lacks: read as a plain value
            kinds[spec] = "value"
    return kinds


def check_where(tables: SweepTables, where: str):
    """Parse ``--where`` against the sweep's outcomes before anything heavy runs."""
    return parse_where(where, list(tables.outcomes.columns), tables.booleans)


def run_discovery(sweep_dir, where: str, out_dir, methods=("prim", "cart"), force: bool = False,
                  command_line=None, **settings) -> Path:
    """Discover the boxes of a sweep where ``where`` holds; write ``OUT_DIR/<sweep>-discover``.

    Parameters
    ----------
    sweep_dir : path
        A finished sweep folder.
    where : str
        The condition on the sweep's outcomes (:mod:`defdip.analysis.where`).
    out_dir : path
        Parent of the result folder.
    methods : sequence of {"prim", "cart"}
    force : bool
        Replace an earlier result.
    settings
        ``threshold, peel_alpha, paste_alpha, mass_min, step, seed`` (:func:`defdip.analysis.discovery.discover`).

    Returns
    -------
    Path
        The result folder.
    """
    tables = read_sweep(sweep_dir)
    parsed = check_where(tables, where)
    require_workbench()  # say how to install it before the folder is touched
    target = Path(out_dir) / f"{tables.folder.name}-discover"
    check_writable(target, force, kind="discover")  # refuse before the boxes are searched
    results = {}
    for method in methods:
        chosen = {k: v for k, v in settings.items() if v is not None and _applies(k, method)}
        results[method] = discover(tables.samples, tables.outcomes, parsed, method, missing=tables.missing,
                                   ranges=tables.ranges, **chosen)
    with atomic_folder(target, force, kind="discover") as work:
        write_tables(work, results)
        title = f"{tables.summary.get('scenario', tables.folder.name)} {tables.summary.get('method', '')} sweep"
        for stem, fig in discovery_figures(results.get("prim"), results.get("cart"), title.strip()).items():
            save_figure(fig, work / stem)
        files = sorted(p.name for p in work.iterdir()) + ["summary.json"]
        write_json(work / "summary.json", {
            "sweep": str(tables.folder), "scenario": tables.summary.get("scenario"),
            "sweep_method": tables.summary.get("method"), "where": where,
            "constants": list(tables.samples.columns), **{m: summary(r) for m, r in results.items()},
            "files": files, "versions": {**versions(), **_workbench_version()},
            "command_line": list(command_line or [])})
    return target


def _applies(setting: str, method: str) -> bool:
    return setting in SETTINGS[method]


def write_tables(folder: Path, results: dict) -> None:
    """``tradeoff.csv``, ``boxes.csv`` and ``leaves.csv`` of the methods' results."""
    boxes = []
    prim = results.get("prim")
    if prim is not None:
        tradeoff = prim.tradeoff.assign(chosen=prim.tradeoff["step"] == prim.chosen)
        tradeoff.to_csv(folder / "tradeoff.csv", index=False, float_format="%.10g")
        boxes.append(prim.limits.assign(method="prim"))
    cart = results.get("cart")
    if cart is not None:
        cart.tradeoff.rename(columns={"step": "leaf"}).to_csv(folder / "leaves.csv", index=False,
                                                               float_format="%.10g")
        cases = case_leaves(cart.tradeoff)["step"]
        boxes.append(cart.limits.assign(method="cart", case_leaf=cart.limits["step"].isin(cases)))
    if boxes:
        table = pd.concat(boxes, ignore_index=True)
        table = table[["method", "step", *[c for c in table.columns if c not in ("method", "step")]]]
        table.rename(columns={"step": "box"}).to_csv(folder / "boxes.csv", index=False, float_format="%.10g")


def _workbench_version() -> dict:
    from importlib import metadata

    try:
        return {"ema_workbench": metadata.version("ema_workbench")}
    except metadata.PackageNotFoundError:
        return {"ema_workbench": "not installed"}
