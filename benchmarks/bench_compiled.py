"""The compiled ensemble engine against PySD, pysimlin and the numpy engine it replaced, side by side.

All engines run the shipped model on the same parameter sets (the baseline's 12 uncertainties,
seeded draws) in this one process, and the script prints each target as a measured ratio:

* cold compile (empty cache, in a fresh interpreter: PySD's parse, our generator, numba) <= 30 s;
* one run, warm: <= 2 ms (median of repeats), beside pysimlin's ``reset/set_value/run_to_end``;
* 100 runs: <= 20 ms;
* 100,000 runs, in chunks of ``--chunk`` (memory flat in N, as sweeps run): >= 2x the numpy
  engine (the one this engine replaced, loaded from git revision ``--numpy-rev``) and >= 3,000x
  PySD run once per parameter set. PySD and pysimlin at 100,000 are EXTRAPOLATED from a timed
  sample of runs (their cost per run is flat); the output says so.

Usage::

    python benchmarks/bench_compiled.py [--big 100000] [--chunk 10000] [--pysd-runs 20]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "iran_russia.mdl"
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def timed(fn, repeat: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` calls [s]."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def cold_compile() -> float:
    """Seconds to load and run the model once with an empty cache, in a fresh interpreter."""
    code = ("import time; t = time.perf_counter(); from defdip.engines.ensemble import EnsembleModel, Timing; "
            f"m = EnsembleModel.load({str(MODEL)!r}); m.run(Timing(2010, 2035, 0.03125, 0.25)); "
            "print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as cache:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env=dict(os.environ, DEFDIP_CACHE_DIR=cache))
    assert "compiling model (first run only)" in done.stderr, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


def numpy_engine(rev: str):
    """The numpy ensemble engine as it was at git revision ``rev`` (it is no longer in the tree)."""
    def source(path):
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout
    build = types.ModuleType("old_ensemble_build")
    build.__file__ = str(ROOT / "src/defdip/engines/ensemble_build.py")
    sys.modules["old_ensemble_build"] = build
    exec(compile(source("src/defdip/engines/ensemble_build.py"), "old_ensemble_build", "exec"), build.__dict__)  # noqa: S102 (our own git history)
    text = (source("src/defdip/engines/ensemble.py").replace("from defdip.engines import ensemble_build",
                                                             "import old_ensemble_build as ensemble_build")
            .replace("defdip.engines.ensemble_build", "old_ensemble_build")
            .replace("_check_model_path", "check_model_path"))
    engine = types.ModuleType("old_ensemble")
    sys.modules["old_ensemble"] = engine
    exec(compile(text, "old_ensemble", "exec"), engine.__dict__)  # noqa: S102 (our own git history)
    return engine


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--pysd-runs", type=int, default=20)
    parser.add_argument("--simlin-runs", type=int, default=1000)
    parser.add_argument("--numpy-rev", default="8ab4076", help="git revision holding the numpy engine")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    import simlin

    from defdip.core.scenario import load_scenario
    from defdip.engines.ensemble import EnsembleModel, Timing
    from defdip.engines.simulate import simulate_batch

    scenario = load_scenario(BASELINE)
    rng = np.random.default_rng(args.seed)
    samples = pd.DataFrame({name: u.ppf(rng.random(args.big)) for name, u in scenario.uncertainties.items()})
    t = scenario.time
    timing = Timing(t.start, t.end, t.dt, t.saveper)
    outputs = list(scenario.outputs)
    ours = EnsembleModel.load(MODEL)

    def run_ours(frame):
        return ours.run(timing, {k: frame[k].to_numpy() for k in frame}, outputs=outputs, size=len(frame))

    def run_chunked(run, n):
        for lo in range(0, n, args.chunk):  # chunks, as a sweep runs them: memory flat in N
            run(samples.iloc[lo:min(n, lo + args.chunk)])

    print("compiled ensemble engine, iran_russia.mdl, baseline's 12 uncertainties; all timed in this run")
    cold = cold_compile()
    run_ours(samples.iloc[:2])  # warm: load the cached native code
    one = timed(lambda: run_ours(samples.iloc[:1]), repeat=50)
    hundred = timed(lambda: run_ours(samples.iloc[:100]), repeat=10)
    big = timed(lambda: run_chunked(run_ours, args.big))

    sim = simlin.load(str(MODEL)).simulate()

    def run_simlin(frame):
        for _, row in frame.iterrows():
            sim.reset()
            for name, value in row.items():
                sim.set_value(name.replace(" ", "_"), float(value))
            sim.run_to_end()
            for name in outputs:
                sim.get_series(name.replace(" ", "_").lower())
    simlin_one = timed(lambda: run_simlin(samples.iloc[:1]), repeat=50)
    simlin_hundred = timed(lambda: run_simlin(samples.iloc[:100]), repeat=3)
    simlin_per_run = timed(lambda: run_simlin(samples.iloc[:args.simlin_runs])) / args.simlin_runs

    simulate_batch(scenario, samples.iloc[:1], outputs, engine="pysd")  # translation cached, not timed
    pysd_per_run = timed(lambda: simulate_batch(scenario, samples.iloc[:args.pysd_runs], outputs,
                                                engine="pysd")) / args.pysd_runs

    old = numpy_engine(args.numpy_rev).EnsembleModel.load(MODEL)

    def run_old(frame):
        return old.run(timing, {k: frame[k].to_numpy() for k in frame}, outputs=outputs, size=len(frame))
    run_old(samples.iloc[:2])
    old_one = timed(lambda: run_old(samples.iloc[:1]), repeat=5)
    old_hundred = timed(lambda: run_old(samples.iloc[:100]), repeat=3)
    old_big = timed(lambda: run_chunked(run_old, args.big))

    def row(label, value, target):
        print(f"  {label:<58} {value}   target {target}")
    print(f"cold compile (empty cache, fresh interpreter): {cold:.1f} s   target <= 30 s: "
          f"{'met' if cold <= 30 else 'NOT met'}")
    print(f"{'':<12}{'ours':>12}{'numpy eng.':>12}{'pysimlin':>12}{'PySD':>12}")
    print(f"{'1 run':<12}{one * 1e3:>10.2f}ms{old_one * 1e3:>10.1f}ms{simlin_one * 1e3:>10.2f}ms"
          f"{pysd_per_run * 1e3:>10.0f}ms")
    print(f"{'100 runs':<12}{hundred * 1e3:>10.1f}ms{old_hundred * 1e3:>10.1f}ms{simlin_hundred * 1e3:>10.0f}ms"
          f"{pysd_per_run * 100:>11.1f}s*")
    print(f"{args.big:<12}{big:>11.2f}s{old_big:>11.2f}s{simlin_per_run * args.big:>10.0f}s*"
          f"{pysd_per_run * args.big:>11.0f}s*")
    print(f"  * extrapolated: PySD from {args.pysd_runs} timed runs, pysimlin from {args.simlin_runs}")
    print("ratios (measured side by side above):")
    row("one run, warm [ms] (<= 2)", f"{one * 1e3:.2f} ms ({'met' if one <= 2e-3 else 'NOT met'})",
        "<= 2 ms")
    row("100 runs [ms] (<= 20)", f"{hundred * 1e3:.1f} ms ({'met' if hundred <= 20e-3 else 'NOT met'})",
        "<= 20 ms")
    speed_old = old_big / big
    speed_pysd = pysd_per_run * args.big / big
    row(f"{args.big} runs: numpy engine time / ours", f"{speed_old:.1f}x ({'met' if speed_old >= 2 else 'NOT met'})",
        ">= 2x")
    row(f"{args.big} runs: PySD time / ours", f"{speed_pysd:.0f}x ({'met' if speed_pysd >= 3000 else 'NOT met'})",
        ">= 3000x")
    row("pysimlin time / ours: 1 run", f"{simlin_one / one:.1f}x", "(reported)")
    row("pysimlin time / ours: 100 runs", f"{simlin_hundred / hundred:.1f}x", "(reported)")
    row(f"pysimlin time / ours: {args.big} runs", f"{simlin_per_run * args.big / big:.0f}x", "(reported)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
