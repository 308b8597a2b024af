"""Regenerate docs/validation.png: the baseline against SIPRI and the dated events.

Usage: python scripts/make_validation_figure.py
"""
from pathlib import Path

from defdip.core.scenario import load_scenario
from defdip.engines.simulate import simulate
from defdip.figures.plotting import save_figure
from defdip.figures.validation import model_vs_data
from defdip.validation.validate import default_engine

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    run = simulate(load_scenario(ROOT / "scenarios" / "baseline.yaml"), default_engine())
    save_figure(model_vs_data(run.trajectories), ROOT / "docs" / "validation", formats=("png",))
    print(ROOT / "docs" / "validation.png")
