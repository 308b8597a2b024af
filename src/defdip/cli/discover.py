"""``defdip discover``: scenario discovery (PRIM and CART) on a sweep's runs."""
from __future__ import annotations

import sys
from pathlib import Path

from defdip.cli.commands import add_debug_flag

METHODS = ("prim", "cart", "both")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "discover", help="which combinations of assumptions lead to an outcome (PRIM, CART)",
        description="Scenario discovery on a finished sweep: the runs where --where holds are the cases of "
                    "interest; PRIM peels a box of constants around them (the coverage/density trade-off over "
                    "its trajectory, the reported box's limits and quasi-p-values) and CART splits the space "
                    "into leaf boxes. Writes DIR/<sweep>-discover. Needs the optional extra: "
                    "pip install 'defdip[discover]'.")
    parser.add_argument("sweep", type=Path, metavar="SWEEP_DIR", help="a result folder of `defdip sweep`")
    parser.add_argument("--where", required=True, metavar="CONDITION",
                        help="the cases of interest: outcomes of the sweep compared with numbers, combined with "
                             "and/or/not and brackets, e.g. \"transition year <= 2032\" or \"strategic by 2030 "
                             "and Reciprocity@2030 >= 0.5\" (no transition counts as later than any year)")
    parser.add_argument("--method", default="both", metavar="{" + ",".join(METHODS) + "}",
                        help="prim, cart or both (default both)")
    parser.add_argument("--threshold", type=float, default=0.8, metavar="D",
                        help="PRIM: the density the offered box should reach; when no step of few "
                             "restrictions does, the best of them is offered and said (default 0.8)")
    parser.add_argument("--peel-alpha", type=float, default=0.05, metavar="A",
                        help="PRIM: share of the box's runs peeled per step (default 0.05)")
    parser.add_argument("--paste-alpha", type=float, default=0.05, metavar="A",
                        help="PRIM: share pasted back per step (default 0.05)")
    parser.add_argument("--mass-min", type=float, default=0.05, metavar="M",
                        help="least share of the runs in a box or leaf (default 0.05)")
    parser.add_argument("--box", type=int, metavar="STEP",
                        help="PRIM: report this step of tradeoff.csv as it is (default: among steps restricting "
                             "at most 4 constants, the best F1 of coverage and density, at least --threshold "
                             "dense if any is, then its restrictions of quasi-p-value above 0.05 dropped)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="CART: tie-breaking seed (default 0)")
    parser.add_argument("-o", "--output", type=Path, default=Path("results"), metavar="DIR")
    parser.add_argument("--force", action="store_true", help="overwrite an earlier result")
    add_debug_flag(parser)
    parser.set_defaults(handler=cmd_discover)


def cmd_discover(args) -> int:
    from defdip.core.errors import InputError
    from defdip.io.discovery_folder import run_discovery
    from defdip.sweep.sampling import check_seed

    if args.method not in METHODS:
        raise InputError(f"--method: unknown method {args.method!r}; allowed: {', '.join(METHODS)}")
    _check_share("--threshold", args.threshold, low_open=True)
    _check_share("--peel-alpha", args.peel_alpha, low_open=True, high=0.5)
    _check_share("--paste-alpha", args.paste_alpha, low_open=True, high=0.5)
    _check_share("--mass-min", args.mass_min, low_open=False, high=0.5)
    check_seed(args.seed)
    methods = ("prim", "cart") if args.method == "both" else (args.method,)
    folder = run_discovery(args.sweep, args.where, args.output, methods, args.force,
                           command_line=["defdip", *sys.argv[1:]], threshold=args.threshold,
                           peel_alpha=args.peel_alpha, paste_alpha=args.paste_alpha, mass_min=args.mass_min,
                           step=args.box, seed=args.seed)
    print(summary_lines(folder))
    return 0


def _check_share(option: str, value: float, low_open: bool, high: float = 1.0) -> None:
    from defdip.core.errors import InputError

    if not ((0 < value if low_open else 0 <= value) and value <= high):
        bracket = "(" if low_open else "["
        raise InputError(f"{option}: {value:g} is outside {bracket}0, {high:g}]")


def summary_lines(folder: Path) -> str:
    """A few lines from the discovery's summary.json."""
    import json

    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    lines = []
    for method in ("prim", "cart"):
        part = summary.get(method)
        if not part:
            continue
        if not lines:
            lines.append(f"{summary['scenario']}: {part['cases']:,} of {part['runs']:,} runs meet "
                         f"{summary['where']!r} ({100 * part['share_of_cases']:.1f}%); wrote {folder}")
        boxes = [part["chosen_box"]] if method == "prim" else part["case_leaves"][:2]
        for i, box in enumerate(boxes):
            label = f"PRIM box (step {part['chosen_step']})" if method == "prim" else f"CART leaf {box['step']}"
            if method == "prim":
                lines += _prim_choice(part)
            limits = "; ".join(_limit(name, lim) for name, lim in box["limits"].items()) or "no restriction"
            lines.append(f"  {label}: coverage {box['coverage']:.2f}, density {box['density']:.2f}, "
                         f"mass {box['mass']:.2f}: {limits}")
    return "\n".join(lines)


def _prim_choice(part: dict) -> list[str]:
    """How the offered PRIM box was chosen, when that is not plain: no step dense enough, or
    restrictions dropped as possibly chance."""
    settings, lines = part["settings"], []
    if not settings.get("found", True):
        lines.append(f"  PRIM: no step of the trajectory reaches density {settings['threshold']:g}; offered: "
                     f"the best of at most {settings.get('max_dimensions', '?')} restricted constants "
                     "(every step: tradeoff.csv; another: --box STEP)")
    if part.get("dropped_restrictions"):
        lines.append(f"  PRIM: dropped as possibly chance (quasi-p > {settings.get('significance', 0.05):g}): "
                     f"{', '.join(part['dropped_restrictions'])}")
    return lines


def _limit(name: str, lim: dict) -> str:
    parts = [f"{op} {lim[side]:.4g}" for side, op in (("low", ">="), ("high", "<=")) if lim[side] is not None]
    return f"{name} {' and '.join(parts)}"
