"""``defdip dominance``: which feedback loops explain the behaviour, and when (Loops That Matter)."""
from __future__ import annotations

import sys
from pathlib import Path

from defdip.cli.commands import add_debug_flag, scenarios_from
from defdip.core.resources import scenario_path
from defdip.core.resources import model_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dominance", help="loop dominance (Loops That Matter): link, loop and relative loop scores",
        description="Score every causal link and feedback loop of a run with the Loops That Matter method "
                    "(Schoenberg, Hayward & Eberlein 2023), and find the dominant loop set at each saved "
                    "time. Writes DIR/<scenario>/: dominance.csv, periods.csv, loops.csv, links.csv, "
                    "summary.json, dominance.png/.svg, manifest.json.")
    parser.add_argument("scenarios", nargs="*", type=scenario_path, metavar="SCENARIO",
                        help="scenario files (default: scenarios/baseline.yaml)")
    parser.add_argument("--model", type=model_path, metavar="FILE.mdl", help="analyse any Vensim model with its own settings")
    parser.add_argument("--loops", default="named", metavar="NAMED|all|TOP_K",
                        help="loops in dominance.csv and the figure: named (the documented loops and every "
                             "loop ever dominant; default), all, or the K strongest plus the named")
    parser.add_argument("-o", "--output", type=Path, default=Path("results/dominance"), metavar="DIR",
                        help="output folder (default: results/dominance)")
    parser.add_argument("--force", action="store_true", help="overwrite earlier results")
    add_debug_flag(parser)
    parser.set_defaults(handler=cmd_dominance)


def cmd_dominance(args) -> int:
    import json

    from defdip.analysis.dominance import parse_loop_choice
    from defdip.io.dominance_folder import dominance_to_folder
    from defdip.io.folders import check_writable

    choice = parse_loop_choice(args.loops)
    scenarios = scenarios_from("dominance", args.scenarios, args.model)
    for scenario in scenarios:  # refuse before the first one runs
        check_writable(args.output / scenario.name, args.force, kind="dominance")
    for scenario in scenarios:
        folder = dominance_to_folder(scenario, args.output, choice, args.force, ["defdip", *sys.argv[1:]])
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        print(f"{scenario.name}: {summary['loops_scored']} loops ({summary['discovery']}); wrote {folder}")
        for label, loop in summary["named_loops"].items():
            share = loop["share_dominant"] or 0.0
            print(f"  {label} ({loop['polarity']}): dominant at {100 * share:.0f}% of saved times")
        if "elements" in summary:
            start, end = summary["elements"]["window"]
            print(f"  named loops element by element, {start:g}-{end:g} (mean |relative score|; elements.csv):")
            for loop, by in summary["elements"]["loops"].items():
                shown = ", ".join(f"{e} {v['mean_abs_relative']:.2g}" if v["mean_abs_relative"] is not None
                                  else f"{e} -" for e, v in by.items())
                print(f"    {loop}: {shown}")
    return 0
