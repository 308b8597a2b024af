"""What ``defdip explore`` knows and does, without a page: controls, settings, runs, saving.

Pure state and orchestration, so the unit tests reach all of it without a browser:

* :func:`controls_for` lists a slider per constant of the scenario's model (per element of a
  subscripted one), grouped as the model file's views group them (:func:`model_groups`), with
  its declared range, units and source comment;
* :class:`Settings` holds what the user changed, every value checked by the scenario loader
  (:meth:`defdip.core.scenario.Scenario.with_overrides`), so the page refuses what
  ``defdip run --set`` refuses, with the same message;
* :func:`run_once`, :func:`uncertainty_band` and :func:`loop_dominance` are the live run, the
  percentile band over the scenario's ``uncertainties`` and the loop-dominance panel;
* :func:`save_scenario` and :func:`save_figure_files` write into the one folder chosen when the
  explorer started, file names only, never over a file unless told to.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import yaml

from defdip.analysis.phases import summary_of
from defdip.compare.gather import RESULT_FILES, read_result_folder
from defdip.core.arrays import split_flat_name
from defdip.core.case import THRESHOLDS
from defdip.core.errors import InputError
from defdip.core.model import model_info
from defdip.core.names import canonical
from defdip.core.resources import SCENARIO_DIR, scenario_path
from defdip.core.scenario import Scenario, load_scenario
from defdip.engines.simulate import simulate, simulate_batch
from defdip.figures.plotting import figure_trajectories, save_figure, trajectory_panels
from defdip.io.folders import atomic_file
from defdip.io.pipeline import figure_spec
from defdip.sweep.sampling import build_problem, unit_sample

ENGINE = "ensemble"  # the compiled engine: a run costs milliseconds, so every change re-runs the model
WHERE = "setting"  # the page's messages are the CLI's (`defdip run --set NAME=VALUE`) in the page's words
OTHER_GROUP = "Other constants"
BAND_RUNS = 200
BAND_PERCENTILES = (5.0, 50.0, 95.0)
BAND_DESIGN = "lhs"  # a Latin hypercube covers each constant's range evenly with few runs
DOMINANCE_LOOPS = 6  # loops drawn in the dominance panel: the strongest, documented ones first
SLIDER_STEPS = 100  # a slider moves over its range in about this many steps
# A view header of a Vensim file: a line of asterisks, the view's name after a dot, asterisks and `~`.
GROUP_HEADER = re.compile(r"^\*{3,}[ \t]*\r?\n[ \t]*\.([^\r\n]+?)[ \t]*\r?\n\*{3,}~", re.MULTILINE)
SKETCH_MARK = "\\\\\\---///"  # where the equations end and the sketch begins
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
MAX_FILE_NAME = 120  # characters; file systems allow 255 bytes for a name with its suffix


# --- controls -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Control:
    """One constant as the page shows it.

    Attributes
    ----------
    name : str
        The constant's Vensim name.
    group : str
        The model view (``***`` group) it is defined in.
    units : str
        Declared units.
    low, high : float or None
        Declared range [units]; a slider needs both.
    start : float
        Its value in the scenario the explorer started from [units].
    step : float
        Slider step [units]: the saving period for a date, a round hundredth of the range otherwise.
    date : bool
        A date (in the model's time units, range reaching into the horizon): a year slider.
    comment : str
        The model's documentation of the constant (its source), shown as the tooltip.
    series : bool
        The scenario gives it as a time series; moving it sets a constant instead.
    array : str
        For an element of a subscripted constant (``name`` is then ``growth rate[r2]``, as
        PySD names its column), the constant's own name; empty for a scalar.
    """

    name: str
    group: str
    units: str
    low: float | None
    high: float | None
    start: float
    step: float
    date: bool
    comment: str
    series: bool = False
    array: str = ""

    @property
    def declared(self) -> bool:
        """Whether the model declares the constant's range (``[low, high]`` in its units)."""
        return self.low is not None and self.high is not None

    @property
    def span(self) -> tuple[float, float]:
        """The slider's ends (:func:`slider_span`)."""
        return slider_span(self.low, self.high, self.start)

    @property
    def label(self) -> str:
        """``name [units]``, as the slider is titled."""
        units = f" [{self.units}]" if self.units and self.units != "Dmnl" else ""
        return f"{self.name}{units}{' (series)' if self.series else ''}"


def model_groups(path: Path) -> dict[str, str]:
    """Each variable's view in a Vensim file: canonical name -> group name.

    PySD's parser drops the group headers (``****`` / ``.Name`` / ``****~``) and its abstract
    model has no sections for them, so the headers are found here: every equation after a
    header, up to the next one, belongs to it. An XMILE file or a file without headers gives
    an empty mapping (everything is then one group).
    """
    path = Path(path)
    if path.suffix.lower() != ".mdl":
        return {}
    text = path.read_text(encoding="utf-8", errors="replace").split(SKETCH_MARK)[0]
    headers = list(GROUP_HEADER.finditer(text))
    out = {}
    for here, after in zip(headers, [*headers[1:], None]):
        body = text[here.end(): after.start() if after else len(text)]
        for block in body.split("|"):
            name = _defined_name(block)
            if name:
                out.setdefault(canonical(name), here.group(1))
    return out


def _defined_name(block: str) -> str | None:
    """The left-hand side of the first equation in a ``|``-separated block, if any."""
    for line in block.splitlines():
        if not line.strip() or line.startswith((" ", "\t", "{", "~")):
            continue  # documentation lines are indented; a group's own text too
        left = re.split(r"=|\(|:|\[|~", line, maxsplit=1)[0].strip()
        return left.strip('"') or None
    return None


def controls_for(scenario: Scenario) -> tuple[Control, ...]:
    """A control per constant of the scenario's model, in the model file's order.

    A subscripted constant gives one control per element, in PySD's column order, each with
    the constant's range, units, documentation and group (an array of one element gives one,
    named as the constant, as its output column is).

    Parameters
    ----------
    scenario : Scenario
        The scenario the explorer starts from: its constants are the sliders' start values.
    """
    info = model_info(scenario.model)
    groups = model_groups(info.path)
    start, end = info.control("INITIAL TIME"), info.control("FINAL TIME")
    time_units = info.resolve("INITIAL TIME").units
    saveper = info.control("SAVEPER")
    out = []
    for var in info.constants.values():
        date = bool(var.units and var.units == time_units and var.low is not None and var.high is not None
                    and var.low <= end and var.high >= start)
        array = var.name if len(var.elements) > 1 else ""
        for name, default in zip(var.columns, var.element_values or (var.value,)):
            value, is_series = start_setting(scenario, var, name, default)
            step = saveper if date else nice_step(*slider_span(var.low, var.high, value))
            out.append(Control(name, groups.get(canonical(var.name), OTHER_GROUP), var.units, var.low, var.high,
                               value, step, date, var.comment, is_series, array))
    return tuple(out)


def start_setting(scenario: Scenario, var, name: str, default) -> tuple[float, bool]:
    """A constant's (or element's) value in the scenario, and whether a time series gives it.

    An element's own setting wins over its array's, as the engines apply them; a time series
    gives its first point; without either, ``default`` (the model file's number; NaN for none).

    Parameters
    ----------
    scenario : Scenario
    var : Variable
        The constant as the model declares it (for an element, the whole array).
    name : str
        ``var.name``, or one of its column names (``growth rate[r2]``).
    default : float or None
    """
    own = var.elements if name == var.name else (name,)  # an array of one element: its one element
    for key in (*own, var.name):
        if key in scenario.constants:
            return float(scenario.constants[key]), False
        if key in scenario.series:
            return float(scenario.series[key][0][1]), True
    return (math.nan if default is None else float(default)), False


def grouped(controls) -> dict[str, list[Control]]:
    """Controls by group, groups in the order they first appear."""
    out: dict[str, list[Control]] = {}
    for control in controls:
        out.setdefault(control.group, []).append(control)
    return out


def slider_span(low: float | None, high: float | None, value: float) -> tuple[float, float]:
    """A slider's ends: the declared range, else :func:`default_span` of the value."""
    return (low, high) if low is not None and high is not None else default_span(value)


def default_span(value: float) -> tuple[float, float]:
    """A slider's ends for a constant without a declared range: from 0 to twice its value.

    Vensim too makes a range up from the model value for such a constant's slider; this one keeps
    the value in the middle. A typed value outside it widens the slider (the model sets no
    bounds, so the scenario loader accepts any number).
    """
    if not math.isfinite(value) or value == 0:
        return (0.0, 1.0)
    return (0.0, 2 * value) if value > 0 else (2 * value, 0.0)


def nice_step(low: float | None, high: float | None) -> float:
    """A round step (1, 2 or 5 times a power of ten) near a hundredth of ``[low, high]``."""
    if low is None or high is None or not high > low:
        return 0.01
    raw = (high - low) / SLIDER_STEPS
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * 0.999)


# --- settings ------------------------------------------------------------------------------------

class Settings:
    """The scenario the explorer started from and the constants changed since.

    Every change goes through :meth:`Scenario.with_overrides`, the loader's own check of a
    ``--set`` value, so a value the page accepts is one a scenario file may hold.
    """

    def __init__(self, scenario: Scenario):
        self.base = scenario
        self._changed: dict[str, float] = {}
        self._scenario = scenario

    @property
    def changed(self) -> Mapping[str, float]:
        """Constant -> value, for the constants set away from the starting scenario."""
        return MappingProxyType(self._changed)

    @property
    def scenario(self) -> Scenario:
        """The starting scenario with the changes (validated)."""
        return self._scenario

    def set(self, name: str, value) -> float:
        """Set a constant; returns the value kept.

        Parameters
        ----------
        name : str
            The constant's Vensim name.
        value : float or str
            A number, or the text typed in the page (read as ``--set NAME=TEXT`` reads it).

        Raises
        ------
        InputError
            For an unknown name, a non-number or a value outside the declared range, with the
            message ``defdip run --set`` gives.
        """
        number = parse_typed(name, value) if isinstance(value, str) else value
        scenario = self._with({**self._changed, name: number})  # raises before anything changes
        info = model_info(self.base.model)
        var = info.resolve(name)
        kept = float(scenario.constants[var.name])
        start, is_series = start_setting(self.base, _declared_as(info, var), var.name, var.value)
        if not is_series and kept == start:
            self._changed.pop(var.name, None)  # back at its start: no longer a change
            scenario = self._with(self._changed)
        else:
            self._changed[var.name] = kept
        self._scenario = scenario
        return kept

    def reset(self, name: str | None = None) -> None:
        """Undo the change to one constant, or (``None``) to all."""
        if name is None:
            self._changed.clear()
        else:
            self._changed.pop(model_info(self.base.model).resolve(name).name, None)
        self._scenario = self._with(self._changed)

    def _with(self, changes: Mapping[str, float]) -> Scenario:
        return self.base.with_overrides(changes, where=WHERE) if changes else self.base


def _declared_as(info, var):
    """The variable as the model declares it: ``var`` itself, or for an element its whole array."""
    return info.variables.get(var.name) or info.resolve(split_flat_name(var.name)[0])


def parse_typed(name: str, text: str) -> float:
    """A typed value as a number, refused as ``--set NAME=TEXT`` refuses it (in the page's words)."""
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{WHERE} {f'{name}={text}'!r}: value {text.strip()!r} is not a number") from None


# --- runs ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One run as the page draws it.

    Attributes
    ----------
    label : str
    time : numpy.ndarray [Year]
    data : dict
        Variable -> values, every variable of the run.
    summary : dict
        ``summary.json`` content (transition year, phases, indicators).
    thresholds : dict
        Threshold constant -> value in this run.
    """

    label: str
    time: np.ndarray
    data: dict
    summary: dict
    thresholds: dict

    @property
    def transition(self) -> float | None:
        """The transition year [Year], ``None`` when phase 3 never lasts."""
        return self.summary.get("transition_year")


def run_once(scenario: Scenario, label: str | None = None) -> Run:
    """Simulate the scenario with the compiled engine and summarise it as ``defdip run`` does."""
    result = simulate(scenario, engine=ENGINE)
    frame = result.trajectories
    rows = np.ascontiguousarray(frame.to_numpy(float).T)  # one copy; a column at a time costs ~3 ms
    data = dict(zip(frame.columns, rows))
    thresholds = {c: float(data[c][0]) for c in THRESHOLDS if c in data}
    return Run(label or scenario.name, frame.index.to_numpy(float), data, summary_of(result), thresholds)


def chart_panels(scenario: Scenario) -> list[tuple[str, tuple[str, ...]]]:
    """The page's panels: the run figure's (:func:`defdip.figures.plotting.trajectory_panels`).

    A subscripted variable is one panel with a line per element. The band is computed for the
    same columns, so the page and its band follow one rule.
    """
    spec = figure_spec(scenario)
    return trajectory_panels(dict.fromkeys(spec.names), spec.outputs)


def key_numbers(run: Run, final=()) -> dict[str, float | None]:
    """What the page prints under the charts: the transition year and the indicators by year.

    ``final`` adds those variables' (or elements') values at the last saved time, as
    ``name@time``: the numbers a model without the project's indicators is shown by.
    """
    out = {"transition year": run.transition}
    for name, by_year in run.summary.get("indicators", {}).items():
        for year, value in by_year.items():
            out[f"{name}@{year}"] = value
    end = f"{run.time[-1]:g}"
    for name in final:
        if name in run.data:
            out[f"{name}@{end}"] = float(run.data[name][-1])
    return out


@dataclass(frozen=True)
class Band:
    """Percentiles of an ensemble over the scenario's uncertainties.

    Attributes
    ----------
    time : numpy.ndarray [Year]
    percentiles : dict
        Variable -> array (3, times): the 5th, 50th and 95th percentiles.
    runs : int
    constants : tuple of str
        The sampled constants.
    source : str
        Where they came from (scenario uncertainties or declared ranges).
    """

    time: np.ndarray
    percentiles: dict
    runs: int
    constants: tuple[str, ...]
    source: str


def uncertainty_band(scenario: Scenario, runs: int = BAND_RUNS, seed: int = 0, variables=None) -> Band:
    """The 5-50-95 % band of ``runs`` runs over the scenario's uncertain constants.

    The constants the scenario declares under ``uncertainties`` (else every declared range,
    as ``defdip sweep`` does) are drawn on a Latin hypercube; every other constant keeps the
    scenario's value, so the band follows the settings on the page.

    Parameters
    ----------
    scenario : Scenario
    runs : int
    seed : int
        Seed of the Latin hypercube.
    variables : sequence of str, optional
        Output columns (``Stock A[Entry 1]`` for an element); default the charted ones
        (:func:`chart_panels`). Names the model does not have are left out.
    """
    problem = build_problem(scenario)
    samples = problem.scale(unit_sample(problem, BAND_DESIGN, runs, seed))
    names = _known(scenario, variables) if variables else _charted(scenario)
    ds = simulate_batch(scenario, samples, names, engine=ENGINE)
    percentiles = {n: np.percentile(np.asarray(ds[n].values, float), BAND_PERCENTILES, axis=0) for n in names}
    return Band(np.asarray(ds["time"], float), percentiles, runs, problem.names, problem.source)


def _charted(scenario: Scenario) -> tuple[str, ...]:
    return tuple(n for _, names in chart_panels(scenario) for n in names)


def _known(scenario: Scenario, names) -> tuple[str, ...]:
    columns = set(figure_spec(scenario).names)
    return tuple(n for n in names if n in columns)


@dataclass(frozen=True)
class LoopScores:
    """The strongest loops of a run: relative loop score over time [dimensionless, -1 to 1]."""

    time: np.ndarray
    scores: dict  # loop label -> array (times,)
    dominant: dict  # loop label -> array (times,) of bool


def loop_dominance(scenario: Scenario, loops: int = DOMINANCE_LOOPS) -> LoopScores:
    """Relative loop scores (Loops That Matter) of the current run, the ``loops`` strongest.

    The analysis is imported here, not at the top: importing it (networkx, the loop search) is
    not needed until the panel is asked for.
    """
    from defdip.analysis.dominance import dominance

    result = dominance(scenario)
    # not the loop table: its text columns for some 15,000 loops would cost more than the scores
    strength = np.nan_to_num(result.mean_abs_relative(0), nan=0.0)
    named = np.array([bool(n) for n in result.loops.named])
    order = np.lexsort((-strength, ~named & (strength > 0)))  # documented and active first
    order = [i for i in order if strength[i] > 0][:loops]
    labels = [result.loops.named[i] or result.loops.ids[i] for i in order]
    return LoopScores(np.asarray(result.time, float),
                      {lab: result.relative_score[i, 0] for lab, i in zip(labels, order)},
                      {lab: result.dominant[i, 0] for lab, i in zip(labels, order)})


# --- overlays --------------------------------------------------------------------------------------

def shipped_names() -> list[str]:
    """The shipped scenarios by name (what ``defdip scenarios`` lists)."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_overlay(text: str, run=None) -> Run:
    """A shipped scenario by name, a scenario file or a result folder of ``defdip run``, as a run.

    ``run`` simulates a scenario (default :func:`run_once`; the page passes its worker's).

    Raises
    ------
    InputError
        For a missing path, a malformed scenario file or a folder that is not a result folder,
        with the message ``defdip run`` / ``defdip compare`` give.
    """
    text = text.strip()
    if not text:
        raise InputError("overlay: give a shipped scenario's name, a scenario file or a result folder")
    path = scenario_path(text)
    if path.is_dir():
        compared = read_result_folder(path)
        frame = compared.trajectories
        data = {n: frame[n].to_numpy(float) for n in frame.columns}
        thresholds = {c: float(frame[c].iloc[0]) for c in THRESHOLDS if c in frame}
        return Run(compared.name, frame.index.to_numpy(float), data, compared.summary, thresholds)
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder; give a shipped scenario's name, a scenario file "
                         f"(.yaml) or a result folder of `defdip run` (holding {', '.join(RESULT_FILES)})")
    return (run or run_once)(load_scenario(path))


# --- saving ----------------------------------------------------------------------------------------

def target_file(folder: Path, name: str, suffix: str) -> Path:
    """``folder/name`` (``suffix`` added when missing), refused unless a plain file name.

    Nothing the page sends can leave ``folder``: no separators, no ``..``, no hidden names.

    Raises
    ------
    InputError
        For a name with a path in it, characters other than letters, digits, space, ``_-.``,
        or more than ``MAX_FILE_NAME`` characters.
    """
    name = name.strip()
    name = name.removesuffix(suffix)
    if not FILE_NAME.match(name) or ".." in name:
        raise InputError(f"save: {name!r} is not a file name; use letters, digits, spaces, '_', '-' or '.', "
                         f"no folders (files go to {folder})")
    if len(name) > MAX_FILE_NAME:
        raise InputError(f"save: the name is {len(name)} characters long; use at most {MAX_FILE_NAME} "
                         f"(files go to {folder})")
    return Path(folder) / f"{name}{suffix}"


def save_error(exc: Exception) -> str:
    """The page's one line for a save that failed: a refusal as it is, a system error by its file and cause
    (a full disk, a folder that cannot be written), never a traceback."""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"save: {where}{exc.strerror or exc}; nothing was saved"
    return str(exc)


def scenario_text(settings: Settings, target: Path) -> str:
    """The YAML of the current settings: ``extends:`` the starting scenario, the changed constants.

    ``extends`` is relative to the file's folder, so the pair can be moved together; a scenario
    built from a bare model refers to the model file the same way (``model:``).
    """
    base = settings.base
    parent = base.source or base.model
    relative = _relative(Path(parent), Path(target).parent)
    doc = {"name": Path(target).stem,
           "description": f"{base.name} with {len(settings.changed)} constant(s) changed in defdip explore",
           ("extends" if base.source else "model"): relative,
           "constants": {k: _plain(v) for k, v in settings.changed.items()}}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def _relative(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return path.resolve().as_posix()


def _plain(x: float):
    return int(x) if float(x).is_integer() else float(x)


def save_scenario(settings: Settings, folder: Path, name: str, overwrite: bool = False) -> tuple[Path, Scenario]:
    """Write the settings as a scenario file in ``folder`` and read it back with the loader.

    The file is checked by :func:`defdip.core.scenario.load_scenario` under a temporary name in
    the same folder (so ``extends`` resolves as it will) before it takes its name.

    Returns
    -------
    (Path, Scenario)
        The file, and the scenario read back from it.

    Raises
    ------
    InputError
        For a bad file name, an existing file without ``overwrite``, or a file the loader refuses.
    """
    target = target_file(folder, name, ".yaml")
    with atomic_file(target, overwrite, what="scenario file") as tmp:
        tmp.write_text(scenario_text(settings, target), encoding="utf-8")
        loaded = load_scenario(tmp)
    return target, _renamed(loaded, target)


def _renamed(scenario: Scenario, path: Path) -> Scenario:
    return replace(scenario, source=path.resolve())


def save_figure_files(run: Run, scenario: Scenario, folder: Path, name: str, overwrite: bool = False) -> list[Path]:
    """The run figure of ``defdip run`` (``trajectories.png``/``.svg``) for the current run, in ``folder``."""
    png = target_file(folder, name, ".png")
    spec = figure_spec(scenario)
    spec = replace(spec, constants={**spec.constants, **run.thresholds})
    fig = figure_trajectories(run.time, {n: run.data[n] for n in spec.names if n in run.data}, spec.title,
                              spec.outputs, spec.units, spec.constants, spec.limits)
    paths = []
    for fmt in ("png", "svg"):
        target = png.with_name(f"{png.stem}.{fmt}")
        with atomic_file(target, overwrite, what="figure") as tmp:
            save_figure(fig, tmp.with_suffix(""), formats=(fmt,))  # writes tmp itself: same stem and suffix
        paths.append(target)
    return paths

