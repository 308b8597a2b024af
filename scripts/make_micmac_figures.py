"""Draw the README's MICMAC and trend figures: docs/micmac.png and docs/trends.png.

Usage: python scripts/make_micmac_figures.py
"""
from __future__ import annotations

from pathlib import Path

from defdip.analysis.micmac import micmac, read_matrix
from defdip.analysis.trends import analyse, load_series
from defdip.core.model import DEFAULT_MODEL, model_info
from defdip.core.scenario import load_scenario
from defdip.engines.simulate import simulate
from defdip.figures.micmac import figure_map
from defdip.figures.trends import figure_trends

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    matrix = read_matrix(ROOT / "models" / "impact_matrix.csv")
    result = micmac(matrix)
    figure_map(result.table, title=f"MICMAC map of the impact matrix (indirect: M^{result.k})") \
        .savefig(docs / "micmac.png", dpi=90)
    run = simulate(load_scenario(ROOT / "scenarios" / "baseline.yaml"))
    units = {n: v.units for n, v in model_info(DEFAULT_MODEL).variables.items()}
    figure_trends(analyse(load_series(), run.trajectories, units).panels).savefig(docs / "trends.png", dpi=80)
    print(f"wrote {docs / 'micmac.png'} and {docs / 'trends.png'}")


if __name__ == "__main__":
    main()
