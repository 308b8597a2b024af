"""``defdip robustness``: the transition year and P(strategic by 2030 / 2035) under each definition."""
from __future__ import annotations

import sys
from pathlib import Path

from defdip.cli.commands import add_debug_flag
from defdip.core.resources import scenario_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "robustness", help="does the verdict survive another definition of 'strategic'?",
        description="Re-run a scenario (once per definition) or a sweep's whole sample (per definition, ensemble "
                    "engine) with each definition of the strategic phase: the strategic threshold over its "
                    "declared range; the index as weighted arithmetic mean, geometric mean or minimum; "
                    "persistence of 1-4 years; Reciprocity with and without a volume floor. Writes "
                    "DIR/<name>-robustness (robustness.csv, robustness.png/.svg, summary.json).")
    parser.add_argument("target", type=scenario_path, metavar="SCENARIO_OR_SWEEP",
                        help="a scenario file (.yaml) or a result folder of `defdip sweep`")
    parser.add_argument("--threshold-step", type=float, default=None, metavar="STEP",
                        help="grid of the strategic threshold over its declared range (default 0.01)")
    parser.add_argument("--engine", default="ensemble", help="ensemble (default) or pysd")
    parser.add_argument("-o", "--output", type=Path, default=Path("results"), metavar="DIR")
    parser.add_argument("--force", action="store_true", help="overwrite an earlier result")
    add_debug_flag(parser)
    parser.set_defaults(handler=cmd_robustness)


def cmd_robustness(args) -> int:
    from defdip.analysis.robustness import DEFAULT_THRESHOLD_STEP
    from defdip.core.errors import InputError
    from defdip.engines.simulate import check_engine
    from defdip.io.robustness_folder import run_robustness

    check_engine(args.engine)
    if not args.target.exists():
        raise InputError(f"{args.target}: no such file or folder; give a scenario file or a sweep folder")
    step = DEFAULT_THRESHOLD_STEP if args.threshold_step is None else args.threshold_step
    folder = run_robustness(args.target, args.output, args.force, args.engine, step,
                            command_line=["defdip", *sys.argv[1:]])
    print(summary_lines(folder))
    return 0


def summary_lines(folder: Path) -> str:
    """The reference verdict and, per family, how far the verdict moves."""
    import json

    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))

    def fmt(x):
        return "none" if x is None else f"{x:.2f}"

    what = "median transition year" if summary["kind"] == "sweep" else "transition year"
    lines = [(f"{summary['scenario']}: {summary['definitions']} definitions x {summary['runs_per_definition']:,} "
             f"run(s); wrote {folder}")]
    parts = summary.get("by_element") or {"": summary}
    for element, part in parts.items():
        prefix = f"  {element}:" if element else " "
        ref = part["reference"]
        if ref:
            lines.append(f"{prefix} own definition: {what} {fmt(ref['transition_year'])}, P(strategic by 2030) "
                         f"{ref['p_strategic_by_2030']:.2f}, by 2035 {ref['p_strategic_by_2035']:.2f}")
        for family, entry in part["range_by_family"].items():
            none = entry["definitions_without_transition"]
            lines.append(f"{prefix} {family}: earliest {fmt(entry['earliest_transition'])}; P(by 2030) "
                         f"{entry['p_strategic_by_2030'][0]:.2f}-{entry['p_strategic_by_2030'][1]:.2f}, P(by 2035) "
                         f"{entry['p_strategic_by_2035'][0]:.2f}-{entry['p_strategic_by_2035'][1]:.2f}"
                         + (f"; no {what} under {len(none)}: {', '.join(none[:4])}{' ...' if len(none) > 4 else ''}"
                            if none else ""))
    return "\n".join(lines)
