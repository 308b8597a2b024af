"""Put runs side by side: gather them, check they can be compared, and tabulate their metrics.

Runs come from scenario files (simulated here) or from result folders written by
``defdip run`` (read back, never rerun). Runs are comparable when they share the saved
time grid, the time step and the model file; otherwise they are refused, or, when the
caller asks for it, interpolated onto their common grid with a note saying so. The
metrics are read from each run's summary (``summary.json`` or
:func:`defdip.analysis.phases.summary_of`), so the table repeats the numbers the runs report.
Plotting lives in :mod:`defdip.figures.compare` and the table as text in
:mod:`defdip.compare.text`; nothing here draws or formats.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.analysis.phases import summary_of, value_at, years_in_phase
from defdip.core.case import EVENT_CONSTANTS, INDICATOR_YEARS, KEY_INDICATORS, PHASE
from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL, ModelInfo, model_info
from defdip.core.scenario import load_scenario
from defdip.engines.simulate import simulate

RESULT_FILES = ("trajectories.csv", "summary.json", "manifest.json")
TABLE_YEARS = tuple(y for y in INDICATOR_YEARS if y >= 2025)
PHASES = (1, 2, 3)
REFERENCE_DEFAULT = "baseline"
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ComparedRun:
    """One run in a comparison.

    Attributes
    ----------
    name : str
        Label in figures and tables (the scenario name, made unique).
    description : str
        The scenario's description.
    source : Path
        The scenario file or result folder it came from.
    kind : str
        ``"scenario"`` (simulated here) or ``"result"`` (read from a folder).
    trajectories : pandas.DataFrame
        Index ``time`` [Year], one column per variable (Vensim names).
    summary : dict
        The run's ``summary.json`` content.
    model : Path
        The Vensim model file.
    model_sha256 : str
        Hash of the model file the run used.
    dt : float
        Time step [Year].
    engine : str
        Engine that produced the run.
    constants : dict
        Every constant's value in this run (model defaults with the scenario's settings).
    """

    name: str
    description: str
    source: Path
    kind: str
    trajectories: pd.DataFrame = field(repr=False)
    summary: dict = field(repr=False)
    model: Path
    model_sha256: str
    dt: float
    engine: str
    constants: dict = field(repr=False)


@dataclass(frozen=True)
class Comparison:
    """Runs ready to compare: one time grid, a reference and the chosen indicators.

    Attributes
    ----------
    runs : tuple of ComparedRun
        In the order given.
    reference : str
        Name of the run differences are taken from.
    variables : tuple of str
        Indicators compared (Vensim names).
    units : dict
        Variable name -> units.
    notes : tuple of str
        What was done to make the runs comparable (empty when nothing was needed).
    """

    runs: tuple[ComparedRun, ...]
    reference: str
    variables: tuple[str, ...]
    units: dict = field(repr=False)
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.runs]

    @property
    def time(self) -> np.ndarray:
        """The common saved times [Year]."""
        return self.runs[0].trajectories.index.to_numpy(float)

    def run(self, name: str) -> ComparedRun:
        return next(r for r in self.runs if r.name == name)

    def frame(self, variable: str) -> pd.DataFrame:
        """One variable for every run: index time [Year], one column per run."""
        return pd.DataFrame({r.name: r.trajectories[variable] for r in self.runs})

    def differences(self, variable: str) -> pd.DataFrame:
        """Each run minus the reference, for one variable; the reference's column is left out."""
        frame = self.frame(variable)
        return frame.drop(columns=self.reference).sub(frame[self.reference], axis=0)


# --------------------------------------------------------------------------
# Gathering runs


def gather_runs(paths, engine: str = "pysd") -> list[ComparedRun]:
    """Simulate scenario files and read result folders, in the order given.

    Parameters
    ----------
    paths : sequence of str or Path
        Scenario files (``.yaml``/``.yml``) and result folders of ``defdip run``.
    engine : str
        Engine for the scenario files.

    Raises
    ------
    InputError
        For a missing path, a folder that is not a result folder, or a bad scenario file.
    """

    if not paths:
        raise InputError("compare: give at least one scenario file or result folder")
    scenarios = {}
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(f"{path}: no such file or folder; give scenario files (.yaml) or result folders "
                             f"of `defdip run` (holding {', '.join(RESULT_FILES)})")
        if path.is_file():
            scenarios[path] = load_scenario(path)  # validates every file before anything runs
        else:
            _check_result_folder(path)
    runs = [run_from_scenario(scenarios[p], engine) if p in scenarios else read_result_folder(p)
            for p in map(Path, paths)]
    return _unique_names(runs)


def run_from_scenario(scenario, engine: str = "pysd") -> ComparedRun:
    """Simulate a scenario and wrap it with its summary."""

    result = simulate(scenario, engine)
    return from_result(result, summary_of(result))


def from_result(result, summary: dict) -> ComparedRun:
    """A :class:`ComparedRun` from a :class:`defdip.engines.simulate.RunResult` and its summary."""
    scenario = result.scenario
    info = model_info(scenario.model)
    return ComparedRun(
        name=scenario.name, description=scenario.description, source=Path(scenario.source or scenario.model),
        kind="scenario", trajectories=result.trajectories, summary=summary, model=info.path,
        model_sha256=info.sha256, dt=float(scenario.time.dt), engine=result.engine,
        constants=_constants(info, scenario.constants))


def _check_result_folder(path: Path) -> None:
    missing = [f for f in RESULT_FILES if not (path / f).is_file()]
    if missing:
        raise InputError(f"{path}: not a result folder of `defdip run` (missing {', '.join(missing)}); "
                         "give scenario files (.yaml) or folders such as results/baseline")


def read_result_folder(path: Path) -> ComparedRun:
    """Read a folder written by ``defdip run`` (trajectories, summary and manifest)."""
    path = Path(path)
    _check_result_folder(path)
    try:
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        frame = pd.read_csv(path / "trajectories.csv", index_col="time")
        record = manifest["scenario"]
        sha, dt = manifest["model_sha256"], float(manifest["dt"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: unreadable result folder ({type(exc).__name__}: {exc})") from None
    frame.index = frame.index.astype(float)
    model = Path(manifest.get("model_file") or record.get("model") or DEFAULT_MODEL)
    info = model_info(model) if model.is_file() else None
    # Without the model file only the scenario's own constants are known; the model's
    # defaults are still right when the hashes agree.
    if info is not None and info.sha256 != sha:
        info = None
    if info is None and model_info(DEFAULT_MODEL).sha256 == sha:
        info = model_info(DEFAULT_MODEL)
    return ComparedRun(
        name=summary.get("scenario") or record.get("name") or path.name,
        description=record.get("description", ""), source=path, kind="result", trajectories=frame,
        summary=summary, model=info.path if info else model, model_sha256=sha, dt=dt,
        engine=str(manifest.get("engine", "?")), constants=_constants(info, record.get("constants", {})))


def _constants(info: ModelInfo | None, overrides) -> dict:
    values = {n: v.value for n, v in info.constants.items() if v.value is not None} if info else {}
    values.update({n: float(v) for n, v in dict(overrides).items()})
    return values


def _unique_names(runs: list[ComparedRun]) -> list[ComparedRun]:
    """Label a run whose name is taken with where it came from, so every label is unique."""
    from dataclasses import replace

    seen, out = set(), []
    for run in runs:
        name = run.name
        if name in seen:
            name = f"{run.name} ({run.source})"
        k = 2
        while name in seen:
            name, k = f"{run.name} ({run.source}) #{k}", k + 1
        seen.add(name)
        out.append(replace(run, name=name))
    return out


# --------------------------------------------------------------------------
# Alignment


def check_alignment(runs: list[ComparedRun], align: bool = False) -> tuple[list[ComparedRun], list[str]]:
    """Make sure the runs share a time grid, a time step and a model, or align them.

    Parameters
    ----------
    runs : list of ComparedRun
    align : bool
        Interpolate every run onto the common grid (and accept different time steps and
        models) instead of refusing.

    Returns
    -------
    runs, notes
        The runs (interpolated when needed) and sentences saying what was done.

    Raises
    ------
    InputError
        Naming the first two runs that differ and how, when ``align`` is off.
    """
    first, notes = runs[0], []
    for run in runs[1:]:
        problems = _differences(first, run)
        if problems and not align:
            raise InputError(f"runs {first.name!r} ({first.source}) and {run.name!r} ({run.source}) cannot be "
                             f"compared: {'; '.join(problems)}; rerun them with the same model and time "
                             "settings, or pass --align to interpolate onto their common time grid")
        notes += [f"{first.name!r} vs {run.name!r}: {p}" for p in problems]
    if not notes:
        return runs, []
    grid = common_grid([r.trajectories.index.to_numpy(float) for r in runs])
    aligned = [_interpolated(r, grid) for r in runs]
    notes.append(f"--align: every run interpolated onto the common grid {grid[0]:g}-{grid[-1]:g} "
                 f"every {grid[1] - grid[0]:g} year(s) ({len(grid)} points); the table uses each run's own summary")
    return aligned, notes


def _differences(a: ComparedRun, b: ComparedRun) -> list[str]:
    out = []
    ta, tb = a.trajectories.index.to_numpy(float), b.trajectories.index.to_numpy(float)
    if len(ta) != len(tb) or not np.allclose(ta, tb, atol=1e-6):
        out.append(f"time grids differ ({_grid_text(ta)} vs {_grid_text(tb)})")
    if not math.isclose(a.dt, b.dt, rel_tol=1e-9):
        out.append(f"time steps differ (dt {a.dt:g} vs {b.dt:g})")
    if a.model_sha256 != b.model_sha256:
        out.append(f"models differ ({a.model} sha256 {a.model_sha256[:12]} vs {b.model} "
                   f"sha256 {b.model_sha256[:12]})")
    return out


def _grid_text(time: np.ndarray) -> str:
    step = f" every {time[1] - time[0]:g}" if len(time) > 1 else ""
    return f"{time[0]:g}-{time[-1]:g}{step}, {len(time)} points"


def common_grid(grids: list[np.ndarray]) -> np.ndarray:
    """The span all grids cover, at the coarsest of their steps [Year].

    Raises
    ------
    InputError
        When the runs share no time span.
    """
    start, end = max(g[0] for g in grids), min(g[-1] for g in grids)
    if end <= start:
        raise InputError("--align: the runs share no time span; nothing to compare")
    step = max(float(np.median(np.diff(g))) for g in grids if len(g) > 1)
    count = int(math.floor((end - start) / step + 1e-6)) + 1
    return start + step * np.arange(count)


def _interpolated(run: ComparedRun, grid: np.ndarray) -> ComparedRun:
    """The run on ``grid``: linear between saved points, a step held for the phase."""
    from dataclasses import replace

    frame = run.trajectories
    time = frame.index.to_numpy(float)
    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy(float)
        if name == PHASE:  # a category: hold the last value rather than invent phase 2.4
            idx = np.clip(np.searchsorted(time, grid + 1e-9, side="right") - 1, 0, len(time) - 1)
            columns[name] = values[idx]
        else:
            columns[name] = np.interp(grid, time, values)
    return replace(run, trajectories=pd.DataFrame(columns, index=pd.Index(grid, name="time")))


# --------------------------------------------------------------------------
# The comparison and its table


def build_comparison(runs: list[ComparedRun], variables=None, reference: str | None = None,
                     align: bool = False) -> Comparison:
    """Check and assemble runs for comparison.

    Parameters
    ----------
    runs : list of ComparedRun
    variables : sequence of str, optional
        Indicators (Vensim names, case and spacing forgiven); default the key indicators.
    reference : str, optional
        Run to take differences from; default ``baseline`` when present, else the first.
    align : bool
        See :func:`check_alignment`.

    Raises
    ------
    InputError
        For an unknown variable (with "did you mean") or reference, or runs that differ.
    """
    runs, notes = check_alignment(list(runs), align)
    names = [r.name for r in runs]
    if reference is None:
        reference = REFERENCE_DEFAULT if REFERENCE_DEFAULT in names else names[0]
    elif reference not in names:
        raise InputError(f"--reference {reference!r}: not among the runs compared; allowed: {', '.join(names)}")
    info = model_info(runs[0].model) if Path(runs[0].model).is_file() else model_info(DEFAULT_MODEL)
    chosen = tuple(dict.fromkeys(info.resolve(v, where="--vars").name for v in (variables or KEY_INDICATORS)))
    for run in runs:
        missing = [v for v in chosen if v not in run.trajectories]
        if missing:
            raise InputError(f"--vars: {run.source} has no {', '.join(repr(m) for m in missing)}; "
                             f"allowed: the variables in its trajectories.csv")
    units = {n: v.units for n, v in info.variables.items()}
    return Comparison(tuple(runs), reference, chosen, units, tuple(notes))


def run_metrics(run: ComparedRun, variables, years=TABLE_YEARS) -> dict:
    """A run's metrics: transition year, years in each phase, cumulative value, indicators.

    Years in a phase are integrated time (each saved value holds until the next save), the same
    rule as the sweep outcome ``years in phase K``.

    Indicators the summary does not hold (a ``--vars`` choice) are read from the
    trajectories with :func:`defdip.analysis.phases.value_at`, as the summary itself does.
    """
    summary = run.summary
    out = {"transition_year": _number(summary.get("transition_year"))}
    frame = run.trajectories
    for p in PHASES:  # integrated time in each phase, as the sweep's "years in phase K" outcome
        out[f"years_phase_{p}"] = (float(years_in_phase(frame.index.to_numpy(float),
                                                        frame[PHASE].to_numpy(float)[None, :], p)[0])
                                   if PHASE in frame else math.nan)
    out["cumulative_ri_value_2010_2024"] = _number(summary.get("cumulative_ri_value_2010_2024"))
    for name in variables:
        stored = summary.get("indicators", {}).get(name, {})
        for year in years:
            value = stored.get(str(year))
            if value is None:
                value = value_at(run.trajectories, name, year)
            out[f"{name} {year}"] = _number(value)
    return out


def _number(value) -> float:
    return math.nan if value is None else float(value)


def metrics_table(comparison: Comparison, years=TABLE_YEARS) -> pd.DataFrame:
    """Per run (rows, in input order) its metrics, each followed by its difference from the reference.

    Columns: ``transition_year``, ``years_phase_1..3``, ``cumulative_ri_value_2010_2024``, and
    ``"<indicator> <year>"``; each with a ``"... diff"`` column (run minus reference; NaN
    where either side has no value, such as a run that never turns strategic).
    """
    rows = {r.name: run_metrics(r, comparison.variables, years) for r in comparison.runs}
    values = pd.DataFrame.from_dict(rows, orient="index")
    diffs = values - values.loc[comparison.reference]
    table = pd.DataFrame(index=values.index)
    table["reference"] = values.index == comparison.reference
    for column in values.columns:
        table[column] = values[column]
        table[f"{column} diff"] = diffs[column]
    table.index.name = "scenario"
    return table


def event_positions(comparison: Comparison) -> list[dict]:
    """Dated events per run, grouped by position.

    Returns
    -------
    list of dict
        ``{"label", "year", "runs": [names], "reference": bool}`` per distinct (event, year)
        inside the compared horizon; ``reference`` tells whether the reference run has it there.
    """
    time = comparison.time
    out = {}
    for label, constant in EVENT_CONSTANTS:
        for run in comparison.runs:
            year = run.constants.get(constant)
            if year is None or not time[0] - _TOLERANCE <= year <= time[-1] + _TOLERANCE:
                continue
            entry = out.setdefault((label, round(year, 6)), {"label": label, "year": float(year), "runs": [],
                                                             "reference": False})
            entry["runs"].append(run.name)
            entry["reference"] |= run.name == comparison.reference
    return sorted(out.values(), key=lambda e: (not e["reference"], e["year"]))
