"""What a sweep costs: a Sobol' analysis end to end, and peak memory as the runs grow.

From one invocation it prints:

* **throughput** -- the ensemble engine against PySD run once per parameter set, at
  N = 1,000 and 10,000 on the project model, with the largest relative difference
  between the two (``bench_ensemble.py``; target >= 500x at N = 10,000);
* **sobol** -- ``defdip sweep`` of the baseline scenario with the Sobol' method on its
  12 uncertain constants and 1,024 base samples (1,024 x (2 x 12 + 2) = 26,624 runs),
  end to end (sampling, runs, chunk files, percentiles, outcomes, indices, figures) in
  a fresh process: wall time and runs per second;
* **memory** -- peak resident memory (the child's own ``ru_maxrss``) of a Monte Carlo
  sweep of 200,000 runs against one of 20,000, and their ratio against the target
  (at most 1.3x): results stream to disk chunk by chunk, the percentiles are computed over
  time blocks reading one chunk file at a time, and ``outcomes.csv`` is written chunk by
  chunk, so memory should not grow with the number of runs. ``--only memory`` runs just this.

Each measurement is a function in :data:`BENCHMARKS` taking the parsed arguments and
returning printable lines, so further measurements are one function more.

Usage::

    python benchmarks/bench_sweep.py [--engine ensemble] [--base-samples 1024]
                                     [--memory-runs 20000 200000] [--only sobol memory]

Translations go to ``$DEFDIP_CACHE_DIR`` as for any run; results go to a temporary
folder that is removed at the end.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
MEMORY_TARGET = 1.3  # the largest sweep may use at most this many times the smallest one's memory

# Runs one sweep in a fresh interpreter and prints its own peak RSS [KiB on Linux].
_CHILD = """
import resource, sys
from defdip.core.scenario import load_scenario
from defdip.io.sweep_folder import run_sweep
from defdip.sweep.plan import plan_sweep
plan = plan_sweep(load_scenario(sys.argv[1]), sys.argv[2], int(sys.argv[3]), seed=1, engine=sys.argv[4],
                  chunk_size=None if sys.argv[6] == "auto" else int(sys.argv[6]))
run_sweep(plan, sys.argv[5], force=True, progress=False, figures=sys.argv[7] == "1")
print(plan.runs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def sweep_in_child(method: str, samples: int, engine: str, out: Path, chunk_size, figures: bool):
    """``(runs, peak RSS [MiB], wall time [s])`` of one sweep in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, str(BASELINE), method, str(samples), engine,
                           str(out), str(chunk_size or "auto"), "1" if figures else "0"],
                          capture_output=True, text=True, cwd=ROOT, check=False)  # failure reported below
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"sweep failed:\n{done.stderr[-3000:]}")
    runs, rss_kib = done.stdout.split()[-2:]
    return int(runs), int(rss_kib) / 1024, wall


def bench_sobol(args, work: Path) -> list[str]:
    """A Sobol' analysis of the baseline's uncertain constants, end to end."""
    from defdip.core.scenario import load_scenario
    from defdip.sweep.sampling import build_problem

    count = len(build_problem(load_scenario(BASELINE)).names)
    runs, rss, wall = sweep_in_child("sobol", args.base_samples, args.engine, work / "sobol",
                                     args.chunk_size, figures=True)
    return [(f"sobol: {count} constants, {args.base_samples:,} base samples -> {runs:,} runs, engine "
             f"{args.engine}: {wall:.1f} s end to end in a fresh process ({runs / wall:,.0f} runs/s), "
             f"peak memory {rss:.0f} MiB")]


def bench_memory(args, work: Path) -> list[str]:
    """Peak memory of Monte Carlo sweeps of growing size."""
    lines, peaks = [], []
    for n in args.memory_runs:
        runs, rss, wall = sweep_in_child("mc", n, args.engine, work / f"mc-{n}", args.chunk_size, figures=False)
        peaks.append(rss)
        lines.append(f"memory: mc sweep of {runs:,} runs, engine {args.engine}: peak {rss:.0f} MiB, "
                     f"{wall:.1f} s ({runs / wall:,.0f} runs/s)")
    ratio = peaks[-1] / peaks[0]
    verdict = "ok" if ratio <= MEMORY_TARGET else "OVER TARGET"
    lines.append(f"memory: {args.memory_runs[-1]:,} runs use {ratio:.2f}x the memory of "
                 f"{args.memory_runs[0]:,} (target <= {MEMORY_TARGET}x): {verdict}")
    return lines


def bench_throughput(args, work: Path) -> list[str]:
    """Ensemble vs PySD-per-run throughput, side by side (see ``bench_ensemble.py``)."""
    import contextlib
    import io

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_ensemble

    rows = bench_ensemble.throughput((1000, 10000), pysd_runs=40, seed=1)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        bench_ensemble.print_throughput(rows, 40)
    return ["throughput: " + line for line in buffer.getvalue().splitlines()]


BENCHMARKS = {"throughput": bench_throughput, "sobol": bench_sobol, "memory": bench_memory}


def main(argv=None) -> int:
    from defdip.engines.simulate import ENGINES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="ensemble" if "ensemble" in ENGINES else "pysd")
    parser.add_argument("--base-samples", type=int, default=1024)
    parser.add_argument("--memory-runs", type=int, nargs=2, default=[20_000, 200_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--chunk-size", type=int, help="runs per chunk (default: the engine's)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        for name in args.only:
            for line in BENCHMARKS[name](args, Path(tmp)):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
