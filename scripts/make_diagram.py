"""Write docs/structure.png, the overview of the model's key structure and named loops.

Run from anywhere: ``python scripts/make_diagram.py [--out PATH] [--model PATH]``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from defdip.core.model import DEFAULT_MODEL
from defdip.figures.structure import write_structure_figure

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="Vensim .mdl file")
    parser.add_argument("--out", type=Path, default=PACKAGE_ROOT / "docs" / "structure.png",
                        help="output file; .png or .svg")
    args = parser.parse_args(argv)
    print(write_structure_figure(args.model, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
