"""The orchestrator: scenario -> simulation -> summary -> files. The CLI calls only this."""
from __future__ import annotations

import textwrap
from pathlib import Path

from defdip.analysis.phases import summary_of
from defdip.core.case import PHASE
from defdip.core.errors import InputError
from defdip.core.model import model_info
from defdip.core.scenario import Scenario
from defdip.engines.simulate import simulate
from defdip.figures.plotting import trajectory_panels
from defdip.figures.render import Renderer, RunFigure
from defdip.io.folders import atomic_folders, check_writable, write_json
from defdip.io.provenance import provenance


def result_folder(out_dir: Path, scenario: Scenario) -> Path:
    """Where a scenario's results go: ``OUT_DIR/<scenario name>``."""
    return Path(out_dir) / scenario.name


def run_to_folder(scenario: Scenario, out_dir: Path, engine: str = "pysd", force: bool = False,
                  command_line: list[str] | None = None, renderer: Renderer | None = None) -> Path:
    """Simulate one scenario and write its four outputs atomically.

    Parameters
    ----------
    renderer : Renderer, optional
        Where the figure is drawn (default: in this process).

    Returns
    -------
    Path
        The scenario's result folder.
    """
    (target,) = run_many([scenario], out_dir, engine, force, command_line, renderer or Renderer(background=False))
    return target


def write_scenario(work: Path, scenario: Scenario, engine: str, command_line: list[str],
                   renderer: Renderer) -> None:
    """Simulate ``scenario`` and write its trajectories, summary, manifest and figure into ``work``."""
    spec = figure_spec(scenario)
    renderer.prepare(scenario.name, scenario.time.saved_times(), spec)  # the frame is built while the model runs
    result = simulate(scenario, engine)
    summary = summary_of(result)
    frame = result.trajectories
    shown = {n for _, names in trajectory_panels(frame, scenario.outputs) for n in names} | {PHASE}
    data = {name: frame[name].to_numpy(float) for name in frame.columns if name in shown}
    figure = renderer.submit(work / "trajectories", frame.index.to_numpy(float), data, spec, key=scenario.name)
    write_run(work, result, summary, command_line)
    figure.result()


def figure_spec(scenario: Scenario) -> RunFigure:
    """What the run figure needs before the run: names, title, outputs, units, constants, ranges."""
    info = model_info(scenario.model)
    shown = [v for v in info.variables.values() if v.kind not in ("control", "lookup")]
    names = tuple(c for v in shown for c in v.columns)  # a subscripted variable's elements, as the run names them
    units = {c: v.units for v in info.variables.values() for c in _keys(v)}
    constants = {n: v.value for n, v in info.constants.items()}
    constants.update(scenario.constants)
    title = textwrap.shorten(": ".join(filter(None, (scenario.name, scenario.description))), 180)
    limits = {c: (v.low, v.high) for v in info.variables.values() if v.low is not None and v.high is not None
              for c in _keys(v)}
    return RunFigure(names, "\n".join(textwrap.wrap(title, 100)), tuple(scenario.outputs), units, constants, limits)


def _keys(var) -> tuple[str, ...]:
    """A variable's name and its output columns: each element has the variable's units and range."""
    return (var.name, *var.elements)


def run_many(scenarios: list[Scenario], out_dir: Path, engine: str = "pysd", force: bool = False,
             command_line: list[str] | None = None, renderer: Renderer | None = None) -> list[Path]:
    """Run several scenarios and publish their folders together: all of them, or none.

    Every target is checked before the first scenario runs, and no folder appears until the
    last one is written, so a failure or Ctrl-C in any scenario leaves no result behind.

    Parameters
    ----------
    renderer : Renderer, optional
        An entered renderer to draw the figures (default: a new one for this call).

    Returns
    -------
    list of Path
        The scenarios' result folders, in order.
    """
    names = [s.name for s in scenarios]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"scenario names must differ (each gets its own folder); repeated: {', '.join(duplicates)}")
    targets = [result_folder(out_dir, s) for s in scenarios]
    for target in targets:
        check_writable(target, force, kind="run")
    if renderer is None:
        with Renderer() as renderer:
            return run_many(scenarios, out_dir, engine, force, command_line, renderer)
    with atomic_folders(targets, force, kind="run") as works:
        for scenario, work in zip(scenarios, works):
            write_scenario(work, scenario, engine, command_line or [], renderer)
    return targets


def write_run(work: Path, result, summary: dict, command_line: list[str]) -> None:
    """Write trajectories.csv, summary.json and manifest.json into ``work``."""
    result.trajectories.to_csv(work / "trajectories.csv", index_label="time")
    write_json(work / "summary.json", summary)
    scenario = result.scenario
    write_json(work / "manifest.json", provenance(scenario, result.engine, command_line, dt=scenario.time.dt,
                                                  saveper=scenario.time.saveper,
                                                  wall_time_s=round(result.wall_time, 4)))
