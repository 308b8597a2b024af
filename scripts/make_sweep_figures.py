"""Draw the README's sweep figures into docs/ from real sweeps of the baseline scenario.

Runs two sweeps (Sobol' and one-at-a-time) of ``scenarios/baseline.yaml`` into a temporary folder and copies
their figures to ``docs/``:

* ``docs/sweep_fan.png`` and ``docs/sweep_transition.png`` -- from the Sobol' sweep;
* ``docs/sweep_sobol.png`` -- its Sobol' indices;
* ``docs/sweep_tornado.png`` -- a one-at-a-time sweep.

Usage::

    python scripts/make_sweep_figures.py [--base-samples 512] [--engine ensemble]

With ``--engine pysd`` keep ``--base-samples`` small (each run costs about 0.15 s).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def main(argv=None) -> int:
    from defdip.core.scenario import load_scenario
    from defdip.engines.simulate import ENGINES
    from defdip.io.sweep_folder import run_sweep
    from defdip.sweep.plan import plan_sweep

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-samples", type=int, default=512, help="Sobol' base samples")
    parser.add_argument("--engine", default="ensemble" if "ensemble" in ENGINES else "pysd")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    scenario = load_scenario(BASELINE)
    with tempfile.TemporaryDirectory(prefix="sweep-figures-") as tmp:
        sobol = run_sweep(plan_sweep(scenario, "sobol", args.base_samples, args.seed, engine=args.engine),
                          tmp, progress=False)
        oat = run_sweep(plan_sweep(scenario, "oat", 5, args.seed, engine=args.engine), tmp, progress=False)
        for source, target in ((sobol / "fan.png", "sweep_fan.png"), (sobol / "sobol.png", "sweep_sobol.png"),
                               (sobol / "transition.png", "sweep_transition.png"),
                               (oat / "tornado.png", "sweep_tornado.png")):
            shutil.copyfile(source, DOCS / target)
            print(f"wrote {DOCS / target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
