"""Throughput of the ensemble engine against PySD run once per parameter set, side by side.

Draws N parameter sets from the baseline's uncertainties (seeded), runs them

* with PySD, one fresh model per set, for the first ``--pysd-runs`` sets (the cost per run is
  flat, so it is measured on a sample and scaled), and
* with the ensemble engine, all N at once,

and prints runs per second of each, the ratio (target >= 500x at N = 10,000), and the
largest relative difference between the two engines over every saved value of the sets
both ran.

Usage::

    python benchmarks/bench_ensemble.py [--sizes 1000 10000] [--pysd-runs 40] [--seed 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
TARGET = 500.0


def draw(scenario, n: int, seed: int) -> pd.DataFrame:
    """``n`` parameter sets from the scenario's uncertainties."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({name: u.ppf(rng.random(n)) for name, u in scenario.uncertainties.items()})


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def throughput(sizes=(1000, 10000), pysd_runs: int = 40, seed: int = 1) -> list[dict]:
    """One row per ensemble size: runs/s of each engine, their ratio, the largest difference."""
    from defdip.core.scenario import load_scenario
    from defdip.engines.simulate import simulate_batch

    scenario = load_scenario(BASELINE)
    samples = draw(scenario, max(sizes), seed)
    simulate_batch(scenario, samples.iloc[:2], engine="ensemble")  # compile and cache, not timed
    simulate_batch(scenario, samples.iloc[:1], engine="pysd")
    reference, pysd_time = timed(lambda: simulate_batch(scenario, samples.iloc[:pysd_runs], engine="pysd"))
    pysd_rate = pysd_runs / pysd_time
    rows = []
    for n in sizes:
        ours, ens_time = timed(lambda: simulate_batch(scenario, samples.iloc[:n], engine="ensemble"))
        head = ours.isel(run=slice(0, pysd_runs))
        worst = max(float(np.max(np.abs(head[v].values - reference[v].values)
                                 / np.maximum(np.abs(reference[v].values), 1e-12)))
                    for v in reference.data_vars)
        rows.append({"N": n, "pysd_runs_per_s": pysd_rate, "ensemble_runs_per_s": n / ens_time,
                     "ensemble_s": ens_time, "ratio": (n / ens_time) / pysd_rate, "max_rel_diff": worst})
    return rows


def print_throughput(rows: list[dict], pysd_runs: int) -> None:
    print(f"ensemble vs PySD-per-run (PySD measured on {pysd_runs} runs, fresh model each)")
    print(f"{'N':>7} {'PySD runs/s':>12} {'ensemble runs/s':>16} {'ensemble s':>11} {'ratio':>8} "
          f"{'max rel diff':>13}")
    for r in rows:
        print(f"{r['N']:>7} {r['pysd_runs_per_s']:>12.1f} {r['ensemble_runs_per_s']:>16.0f} "
              f"{r['ensemble_s']:>11.2f} {r['ratio']:>7.0f}x {r['max_rel_diff']:>13.1e}")
    last = rows[-1]
    verdict = "met" if last["ratio"] >= TARGET else "NOT met"
    print(f"at N = {last['N']}: {last['ratio']:.0f}x; target >= {TARGET:.0f}x: {verdict}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--pysd-runs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print_throughput(throughput(args.sizes, args.pysd_runs, args.seed), args.pysd_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
