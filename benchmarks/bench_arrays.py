"""Subscripted models on the compiled engine, against PySD, side by side in one run.

The model is ``tests/models/ltm/bass_regions.mdl`` (Bass diffusion over a subscript of regions, a
subscripted copy of ``bass.mdl``) written with N regions. (With word of mouth across regions through
``SUM`` PySD 3.14 fails on one region, ``sum(float(...))``; the compiled engine runs it.) It prints, for N = 1, 2, 10, 100:

* the compiled engine's warm time per run (a batch of ``--runs`` runs, divided), and its ratio to
  N = 1 (target: at most about N);
* PySD's warm time per run, with ``return_columns`` of the stocks only and with every column
  (PySD spends most of a subscripted run flattening its output to a frame), and the compiled
  engine's speed-up over each (target: at least 200x);

then the cold compile (empty cache, a fresh interpreter: PySD's parse, the flattening, the
generator, numba) of a model with ``--cold-elements`` array elements in all (target: at most 30 s),
and the largest relative difference between the engines over every saved value.

Usage::

    python benchmarks/bench_arrays.py [--sizes 1 2 10 100] [--runs 200] [--pysd-runs 5]
                                      [--cold-elements 1000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "tests" / "models" / "ltm" / "bass_regions.mdl"
ELEMENT_TARGET, PYSD_TARGET, COLD_TARGET = 1.0, 200.0, 30.0  # ratio to N; speed-up; seconds
VARIABLES_PER_REGION = 6  # arrays in the model: two stocks, a flow, three constants


def write_model(folder: Path, n: int) -> Path:
    """The template with ``n`` regions."""
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text.replace("r1, r2, r3", ", ".join(f"r{i}" for i in range(1, n + 1)))
    path = folder / f"bass_{n}.mdl"
    path.write_text(text, encoding="utf-8")
    return path


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(path: Path, runs: int, pysd_runs: int, seed: int) -> dict:
    from defdip.core.scenario import scenario_from_model
    from defdip.engines.simulate import simulate_batch

    scenario = scenario_from_model(path)
    rng = np.random.default_rng(seed)
    samples = pd.DataFrame({"adoption fraction": rng.uniform(0.05, 0.2, runs)})
    stocks = ["Adopters", "Potential Adopters"]
    simulate_batch(scenario, samples.iloc[:2], stocks, engine="ensemble")  # compile, not timed
    simulate_batch(scenario, samples.iloc[:1], stocks, engine="pysd")      # translate, not timed
    ours = best(lambda: simulate_batch(scenario, samples, stocks, engine="ensemble")) / runs
    head = samples.iloc[:pysd_runs]
    pysd_stocks = best(lambda: simulate_batch(scenario, head, stocks, engine="pysd"), 1) / pysd_runs
    every = [name for name in ("Adopters", "Potential Adopters", "adoption rate", "contact rate",
                               "total market", "initial adopters")]
    pysd_all = best(lambda: simulate_batch(scenario, head, every, engine="pysd"), 1) / pysd_runs
    a = simulate_batch(scenario, head, every, engine="ensemble")
    b = simulate_batch(scenario, head, every, engine="pysd")
    worst = max(float(np.max(np.abs(a[v].values - b[v].values) / np.maximum(np.abs(b[v].values), 1e-300)))
                for v in a.data_vars)
    return {"ours": ours, "pysd_stocks": pysd_stocks, "pysd_all": pysd_all, "worst": worst}


def cold_compile(path: Path) -> float:
    """Seconds to load and run the model once with an empty cache, in a fresh interpreter."""
    code = ("import sys; from defdip.core.scenario import scenario_from_model; "
            "from defdip.engines.simulate import simulate; simulate(scenario_from_model(sys.argv[1]), 'ensemble')")
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True,
                       env=dict(os.environ, DEFDIP_CACHE_DIR=cache))
        return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 10, 100])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--pysd-runs", type=int, default=5)
    parser.add_argument("--cold-elements", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        rows = {n: measure(write_model(Path(folder), n), args.runs, args.pysd_runs, args.seed) for n in args.sizes}
        base = rows[min(rows)]["ours"]
        print(f"{'N':>5} {'compiled/run':>13} {'x N=1':>7} {'PySD stocks/run':>16} {'PySD all/run':>13} "
              f"{'speed-up':>17} {'max rel diff':>13}")
        for n, r in rows.items():
            ratio = r["ours"] / base
            up_stocks, up_all = r["pysd_stocks"] / r["ours"], r["pysd_all"] / r["ours"]
            ok &= ratio <= ELEMENT_TARGET * n * 1.25 and up_stocks >= PYSD_TARGET
            print(f"{n:>5} {r['ours'] * 1e3:>10.3f} ms {ratio:>7.2f} {r['pysd_stocks'] * 1e3:>13.1f} ms "
                  f"{r['pysd_all'] * 1e3:>10.1f} ms {up_stocks:>7.0f}x /{up_all:>7.0f}x {r['worst']:>13.1e}")
        print(f"targets: compiled cost <= about N x the N=1 cost; >= {PYSD_TARGET:.0f}x PySD "
              "(speed-up shown against PySD returning the stocks / every column)")
        n_cold = max(1, round(args.cold_elements / VARIABLES_PER_REGION))
        cold = cold_compile(write_model(Path(folder), n_cold))
        ok &= cold <= COLD_TARGET
        print(f"cold compile of {n_cold * VARIABLES_PER_REGION} array elements ({n_cold} regions), empty cache, "
              f"fresh interpreter: {cold:.1f} s   target <= {COLD_TARGET:.0f} s: {'met' if cold <= COLD_TARGET else 'MISSED'}")
    print("all targets met" if ok else "some target MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
