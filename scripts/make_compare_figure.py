"""Write docs/compare.png, every shipped scenario side by side (the README's comparison figure).

Run from anywhere: ``python scripts/make_compare_figure.py [--out PATH] [--vars NAME ...]``.
The same figure as ``defdip compare scenarios/*.yaml`` writes as compare_indicators.png.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from defdip.compare.gather import build_comparison, gather_runs
from defdip.figures.compare import comparison_figures
from defdip.figures.plotting import save_figure

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PACKAGE_ROOT / "docs" / "compare.png", help="output .png")
    parser.add_argument("--vars", nargs="+", metavar="NAME", help="indicators (default: the key indicators)")
    parser.add_argument("--figure", default="compare_indicators",
                        choices=("compare_indicators", "compare_differences", "compare_phases"))
    args = parser.parse_args(argv)
    runs = gather_runs(sorted((PACKAGE_ROOT / "scenarios").glob("*.yaml")))
    figure = comparison_figures(build_comparison(runs, args.vars))[args.figure]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(figure, args.out.with_suffix(""), ("png",))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
