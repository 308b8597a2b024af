"""Cost of loop dominance, measured side by side in one run (ratios, not absolute times).

1. One baseline run: ``dominance(scenario)`` against a plain run on the same (ensemble)
   engine, both warm (the model, its link-score kernel and its loop set built once before
   timing); the best of ``--repeat`` calls of each.
2. A sweep: ``run_sweep`` with ``--dominance`` against the same sweep without it (no figures),
   ``--runs`` runs (default 10,000) of the baseline's uncertainties, once each.

Usage: python benchmarks/bench_dominance.py [--runs N] [--repeat K]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from defdip.analysis.dominance import dominance
from defdip.core.resources import BASELINE
from defdip.core.scenario import load_scenario
from defdip.engines.simulate import simulate
from defdip.io.sweep_folder import run_sweep
from defdip.sweep.plan import plan_sweep


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scenario = load_scenario(BASELINE)
    simulate(scenario, "ensemble")
    dominance(scenario)  # warm: compile the engine and its link-score kernel, build the loop set
    plain = best(lambda: simulate(scenario, "ensemble"), args.repeat)
    scored = best(lambda: dominance(scenario), args.repeat)
    print(f"one baseline run: plain {plain:.3f} s, dominance {scored:.3f} s, ratio {scored / plain:.2f} (target <= 3)")
    with tempfile.TemporaryDirectory() as tmp:
        timings = {}
        for flag in (False, True):
            plan = plan_sweep(scenario, "mc", args.runs, 0, engine="ensemble", dominance=flag)
            start = time.perf_counter()
            run_sweep(plan, Path(tmp) / str(flag), progress=False, figures=False)
            timings[flag] = time.perf_counter() - start
    print(f"sweep of {args.runs:,} runs: without {timings[False]:.1f} s, with --dominance {timings[True]:.1f} s, "
          f"ratio {timings[True] / timings[False]:.2f} (target <= 5)")


if __name__ == "__main__":
    main()
