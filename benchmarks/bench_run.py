"""How much a cold ``defdip run`` of the baseline costs over a bare PySD run of the same model.

Two commands, each in a fresh interpreter, alternated for ``--rounds`` rounds after one
warm-up of each (so the translation cache and the OS file cache are warm for both):

* defdip: ``python -m defdip run scenarios/baseline.yaml -o <tmp> --force``
* bare:   ``python -c "import pysd; pysd.load(PY_FILE).run()"`` on the cached translation

It prints each round's pair of wall times, the median of each, the median of the
per-round ratios (defdip / bare) against the target, and a breakdown of one defdip run
measured inside a fresh interpreter, stage by stage, along the code path the CLI takes,
and what the figure would cost if drawn in the main process.

Usage::

    python benchmarks/bench_run.py [--rounds 7]

Translations go to ``$DEFDIP_CACHE_DIR`` (default ``~/.cache/defdip``) as for any run;
results go to a temporary folder that is removed at the end.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
TARGET_RATIO = 1.3  # defdip may cost at most this many times a bare PySD run


def timed(command: list[str]) -> float:
    """Wall time of one command in a fresh process [s]; raises if it fails."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr}")
    return elapsed


def commands(out_dir: Path) -> dict[str, list[str]]:
    """The two commands compared, keyed by label."""
    from defdip.core.model import DEFAULT_MODEL, translate

    py_file = translate(DEFAULT_MODEL)  # also makes sure the translation is cached
    return {
        "defdip": [sys.executable, "-m", "defdip", "run", str(BASELINE), "-o", str(out_dir), "--force"],
        "bare": [sys.executable, "-c", f"import pysd; pysd.load({str(py_file)!r}).run()"],
    }


def compare(rounds: int, out_dir: Path) -> None:
    cmds = commands(out_dir)
    for label, command in cmds.items():
        timed(command)  # warm-up
    pairs = []
    print(f"{'round':>5}  {'defdip [s]':>10}  {'bare [s]':>9}  {'ratio':>6}")
    for i in range(rounds):
        order = ("defdip", "bare") if i % 2 == 0 else ("bare", "defdip")  # no order bias
        t = {label: timed(cmds[label]) for label in order}
        pairs.append((t["defdip"], t["bare"]))
        print(f"{i + 1:>5}  {t['defdip']:>10.3f}  {t['bare']:>9.3f}  {t['defdip'] / t['bare']:>6.2f}")
    ratio = statistics.median(d / b for d, b in pairs)
    print(f"median  {statistics.median(d for d, _ in pairs):>10.3f}  "
          f"{statistics.median(b for _, b in pairs):>9.3f}")
    print(f"median of per-round ratios defdip/bare: {ratio:.2f}x; target <= {TARGET_RATIO}x: "
          f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    startup = statistics.median(timed([sys.executable, "-c", "pass"]) for _ in range(3))
    print(f"(for scale: a bare `python -c pass` takes {startup:.3f} s)")


# --- breakdown, run inside a fresh interpreter ------------------------------------------------

def _stopwatch():
    """``(clock, record)``: ``record(label)`` stores the time since the previous call."""
    stages: list[tuple[str, float]] = []
    last = [time.perf_counter()]

    def record(label: str) -> None:
        now = time.perf_counter()
        stages.append((label, now - last[0]))
        last[0] = now
    return stages, record


def _timing(stages: list, label: str, func):
    """``func`` wrapped so every call adds its duration to ``stages`` under ``label``."""
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            stages.append((label, time.perf_counter() - started))
    return wrapper


def breakdown(out_dir: Path) -> list[tuple[str, float]]:
    """Stage times of one defdip run of the baseline [s], in this (fresh) interpreter.

    Runs the pipeline as ``cmd_run`` does, with the pipeline's own calls wrapped in
    timers, so the stages are the package's real code, not a re-implementation. The
    figure is drawn in the renderer's worker process, which imports matplotlib while
    the model runs; what remains of it in the main process is the wait at the end.
    """
    stages, record = _stopwatch()
    import defdip.cli.main  # noqa: F401  (what the console script imports first)
    from defdip.figures.render import Renderer

    renderer = Renderer().__enter__()  # as cmd_run does: the figure worker starts first
    record("start the figure worker")
    import defdip.engines.simulate as simulate_module
    import defdip.io.pipeline as pipeline
    from defdip.core.scenario import load_scenario
    record("import defdip (+ numpy, pandas, yaml)")
    import pysd  # noqa: F401  (imported lazily by the package; counted here, not in a stage)
    record("import pysd (+ xarray, scipy, ...)")

    scenario = load_scenario(BASELINE)
    record("scenario load + validation")

    inner: list[tuple[str, float]] = []
    simulate_module.load_model = _timing(inner, "load", simulate_module.load_model)
    pipeline.simulate = _timing(inner, "simulate", pipeline.simulate)
    pipeline.summary_of = _timing(inner, "summary", pipeline.summary_of)
    pipeline.write_run = _timing(inner, "write", pipeline.write_run)
    pipeline.Renderer.submit = _timing(inner, "submit", pipeline.Renderer.submit)
    started = time.perf_counter()
    pipeline.run_many([scenario], out_dir, "pysd", True, ["bench"], renderer)
    renderer.__exit__(None, None, None)
    total = time.perf_counter() - started

    t = dict(inner)
    stages += [("model load (translation lookup + pysd.load)", t["load"]),
               ("simulate: model info + model.run + columns", t["simulate"] - t["load"]),
               ("summary", t["summary"]),
               ("write trajectories.csv + summary/manifest JSON", t["write"]),
               ("hand the figure to the worker", t["submit"]),
               ("wait for the figure, stop the worker, rename",
                total - t["simulate"] - t["summary"] - t["write"] - t["submit"])]
    return stages


def figure_cost() -> list[tuple[str, float]]:
    """What the figure alone costs when drawn in-process [s] (what the worker hides)."""
    stages, record = _stopwatch()
    import defdip.io.pipeline  # noqa: F401
    from defdip.core.scenario import load_scenario
    from defdip.engines.simulate import simulate
    result = simulate(load_scenario(BASELINE))
    record("(setup: import, run; not counted)")
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    record("import matplotlib")
    from defdip.figures.render import RunFigure, draw_run_figure
    with tempfile.TemporaryDirectory() as tmp:
        frame = result.trajectories
        data = {name: frame[name].to_numpy(float) for name in frame.columns}
        draw_run_figure(Path(tmp) / "trajectories", frame.index.to_numpy(float), data, RunFigure(tuple(data), "title"))
        record("draw + save PNG and SVG")
    return stages[1:]


def bare_breakdown() -> list[tuple[str, float]]:
    """Stage times of the bare PySD command [s], in this (fresh) interpreter."""
    stages, record = _stopwatch()
    import pysd
    record("import pysd")
    from defdip.core.model import DEFAULT_MODEL, translate
    py_file = str(translate(DEFAULT_MODEL))
    started = time.perf_counter()
    model = pysd.load(py_file)
    loaded = time.perf_counter()
    model.run()
    stages += [("pysd.load", loaded - started), ("model.run()", time.perf_counter() - loaded)]
    return stages


def in_fresh_interpreter(which: str, out_dir: Path) -> list[tuple[str, float]]:
    done = subprocess.run([sys.executable, __file__, "--stages", which, "-o", str(out_dir)],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"breakdown ({which}) failed:\n{done.stderr}")
    return [tuple(row) for row in json.loads(done.stdout.splitlines()[-1])]


def print_stages(title: str, stages: list[tuple[str, float]]) -> None:
    total = sum(v for _, v in stages)
    print(f"\n{title}")
    for label, seconds in stages:
        print(f"  {label:<52} {seconds:7.3f} s  {100 * seconds / total:5.1f} %")
    print(f"  {'total in-process':<52} {total:7.3f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--stages", choices=("defdip", "bare", "figure"), help=argparse.SUPPRESS)
    parser.add_argument("-o", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    if args.stages:  # child: time the stages here and hand them back as JSON
        stages = {"defdip": lambda: breakdown(args.o), "bare": bare_breakdown, "figure": figure_cost}[args.stages]()
        print(json.dumps(stages))
        return 0

    with tempfile.TemporaryDirectory(prefix="defdip-bench-") as tmp:
        print(f"python {sys.version.split()[0]}, {args.rounds} rounds after one warm-up each\n")
        compare(args.rounds, Path(tmp) / "timed")
        print_stages("breakdown of one defdip run (fresh interpreter, time.perf_counter):",
                     in_fresh_interpreter("defdip", Path(tmp) / "stages"))
        print_stages("breakdown of the bare PySD run (fresh interpreter):",
                     in_fresh_interpreter("bare", Path(tmp) / "stages"))
        print_stages("the figure drawn in-process instead (hidden by the worker above):",
                     in_fresh_interpreter("figure", Path(tmp) / "stages"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
