"""``defdip sweep``: a sensitivity sweep of a scenario (oat, mc, lhs, sobol, morris)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from defdip.cli.commands import BATCH_ENGINE_HELP, add_debug_flag
from defdip.core.resources import scenario_path

METHODS = ("oat", "mc", "lhs", "sobol", "morris")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="sensitivity sweep of a scenario",
        description="Sample uncertain constants, run the scenario once per sample (in chunks streamed to "
                    "disk, resumable), and write percentiles, outcomes, indices and figures to "
                    "DIR/<scenario>-<method>.")
    parser.add_argument("scenario", type=scenario_path, metavar="SCENARIO",
                        help="a scenario file (YAML) or a shipped scenario's name")
    parser.add_argument("--method", required=True, metavar="{" + ",".join(METHODS) + "}",
                        help="oat: each constant alone; mc: Monte Carlo; lhs: Latin hypercube; "
                             "sobol: Saltelli design with S1/ST/S2; morris: elementary effects")
    parser.add_argument("--samples", type=int, metavar="N",
                        help="runs (mc, lhs), base samples (sobol: N(2D+2) runs), trajectories "
                             "(morris: N(D+1) runs) or levels per constant (oat: 1+DN runs)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    parser.add_argument("--vary", action="append", default=[], metavar="NAME=LOW:HIGH",
                        help="vary this constant uniformly (repeatable; default: the scenario's uncertainties); "
                             "'--vary all': the scenario's uncertainties and every other constant with a declared "
                             "range except dates of events on the record and the verdict's definitions (with "
                             "morris: a global screen, screen.csv); '--vary everything' includes those")
    parser.add_argument("--outcome", action="append", default=[], metavar="SPEC", dest="outcomes",
                        help="NAME@YEAR, 'transition year', 'years in phase K', 'strategic by YEAR' (repeatable)")
    parser.add_argument("--outputs", nargs="+", default=[], metavar="NAME",
                        help="store these variables too (default: the scenario's outputs)")
    parser.add_argument("--engine", default=None, help=BATCH_ENGINE_HELP)
    parser.add_argument("--workers", type=int, default=1, metavar="K", help="local worker processes")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run chunks on this Dask scheduler")
    parser.add_argument("--chunk-size", type=int, metavar="N", help="runs per chunk file")
    parser.add_argument("-o", "--output", type=Path, default=Path("results"), metavar="DIR")
    parser.add_argument("--force", action="store_true", help="overwrite an earlier result")
    parser.add_argument("--dominance", action="store_true",
                        help="also score every run's feedback loops (Loops That Matter): share of runs in which "
                             "each documented loop dominates, percentiles of its relative score")
    parser.add_argument("--no-figures", action="store_true", help=argparse.SUPPRESS)
    add_debug_flag(parser)
    parser.set_defaults(handler=cmd_sweep)


def cmd_sweep(args) -> int:
    from defdip.core.errors import InputError, resource_error
    from defdip.core.scenario import load_scenario
    from defdip.io.sweep_folder import run_sweep
    from defdip.sweep.executors import check_scheduler
    from defdip.sweep.plan import plan_sweep
    from defdip.sweep.sampling import parse_vary

    if args.method not in METHODS:
        raise InputError(f"--method: unknown method {args.method!r}; allowed: {', '.join(METHODS)}")
    if args.workers < 1:
        raise InputError(f"--workers: must be at least 1, got {args.workers}")
    if args.scheduler and args.workers > 1:
        raise InputError("--workers and --scheduler: give one; the Dask cluster has its own workers")
    if args.scheduler:
        check_scheduler(args.scheduler)  # before the plan: a wrong address is known in a few seconds
    scenario = load_scenario(args.scenario)
    plan = plan_sweep(scenario, args.method, args.samples, args.seed, parse_vary(args.vary),
                      args.outputs, args.outcomes, args.engine, args.chunk_size,
                      dominance=args.dominance)
    try:
        folder = run_sweep(plan, args.output, args.force, args.workers, args.scheduler,
                           command_line=["defdip", *sys.argv[1:]], figures=not args.no_figures)
    except KeyboardInterrupt:
        print(f"defdip: interrupted; {_kept(args, plan)}", file=sys.stderr)
        return 130
    except (OSError, MemoryError) as exc:
        error = resource_error(exc)
        if error is None:
            raise
        raise InputError(f"{error}; {_kept(args, plan)}") from None
    print(summary_lines(folder))
    return 0


def _kept(args, plan) -> str:
    return (f"finished chunks are kept in {Path(args.output) / plan.folder_name}.partial -- rerun the same "
            "command to resume")


def summary_lines(folder: Path) -> str:
    """A few lines from the sweep's summary.json."""
    import json

    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    lines = [f"{summary['scenario']}: {summary['method']} sweep, {summary['runs']:,} runs of "
             f"{len(summary['problem']['constants'])} constants ({summary['problem']['source']}), "
             f"engine {summary['engine']}; wrote {folder}"]
    transition = summary.get("transition_year")
    if transition:
        fmt = lambda x: "none" if x is None else f"{x:.2f}"  # noqa: E731
        lines.append(f"  transition year: median {fmt(transition['median'])} (5-95%: {fmt(transition['p5'])}"
                     f" to {fmt(transition['p95'])}); no transition in "
                     f"{100 * transition['share_without_transition']:.1f}% of runs")
        lines.append(f"  P(strategic by 2030) = {summary['p_strategic_by_2030']:.3f}")
    lines += _screen_lines(folder)
    notes = summary.get("indices_not_informative", {})
    for outcome, top in list(summary["top_constants"].items())[:2]:
        if outcome in notes:
            lines.append(f"  indices of {outcome}: {notes[outcome]}")
        elif top:
            key = [k for k in top[0] if k != "constant"][0]
            names = ", ".join(f"{t['constant']} ({t[key]:.3g})" for t in top[:3])
            lines.append(f"  most influential on {outcome} by {key}: {names}")
        else:
            lines.append(f"  most influential on {outcome}: none, no constant moves it in these runs")
    return "\n".join(lines)


def _screen_lines(folder: Path) -> list[str]:
    """From screen.csv (morris --vary all): the constants left out of the scenario's uncertainties
    that change a yes/no verdict by themselves."""
    import pandas as pd

    from defdip.sweep.screen import omissions

    path = folder / "screen.csv"
    if not path.is_file():
        return []
    left_out = omissions(pd.read_csv(path))
    if left_out.empty:
        return ["  screen: no constant outside the scenario's uncertainties changes a yes/no outcome by itself"]
    lines = []
    for outcome, rows in left_out.groupby("outcome", sort=False):
        names = ", ".join(f"{r.constant} ({r.mu_star:.3g})" for r in rows.itertuples())
        lines.append(f"  screen: left out of the uncertainties yet changing {outcome!r} alone "
                     f"(mu*): {names}")
    return lines
