"""Command line: parse arguments, build scenario objects, call the library.

Exit status: 0 done, 2 bad input, 1 a failure of the program itself.
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from defdip import __version__
from defdip.cli.commands import scenarios_from
from defdip.core.errors import DefdipError, InputError, resource_error
from defdip.core.resources import other_shipped_scenarios, scenario_path, shipped_scenarios
from defdip.core.resources import model_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="defdip", description="Iran-Russia defense-diplomacy dynamics, 2010-2035.")
    parser.add_argument("--version", action="version", version=f"defdip {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="simulate scenarios (default: scenarios/baseline.yaml)")
    run.add_argument("scenarios", nargs="*", type=scenario_path, metavar="SCENARIO",
                     help="scenario files, or names of shipped scenarios (defdip scenarios lists them)")
    run.add_argument("--model", type=model_path, metavar="FILE",
                     help="run any Vensim .mdl or XMILE .xmile/.stmx model with its own settings")
    run.add_argument("-o", "--output", type=Path, default=Path("results"), metavar="DIR")
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets")
    run.add_argument("--engine", default="pysd",
                     help="pysd (default) or ensemble: the vectorised engine, same numbers")
    run.add_argument("--force", action="store_true", help="overwrite earlier results")
    run.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    scen = sub.add_parser("scenarios", help="list the shipped scenarios (or copy them to edit)")
    scen.add_argument("--copy", type=Path, metavar="DIR",
                      help="copy the shipped scenario files into DIR, to edit and run (extends: still resolves)")
    scen.add_argument("--force", action="store_true", help="with --copy: overwrite files of the same name")
    describe = sub.add_parser("describe", help="show a variable's equation, units, range and source")
    describe.add_argument("name", nargs="?", help="a variable's Vensim name (omit to list them all)")
    describe.add_argument("--model", type=model_path, metavar="FILE", help="a Vensim .mdl or XMILE .xmile/.stmx model")
    describe.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    _register_commands(sub)
    return parser


def _register_commands(sub) -> None:
    """Add the sub-commands whose modules :data:`defdip.cli.commands.MODULES` names."""
    import importlib

    from defdip.cli.commands import MODULES

    for name in MODULES:
        importlib.import_module(f"defdip.cli.{name}").register(sub)


def parse_sets(items: list[str]) -> dict[str, float]:
    """``["war end year=2030"]`` -> ``{"war end year": 2030.0}``.

    Raises
    ------
    InputError
        For an item not ``NAME=VALUE``, a value that is not a number, or a name given twice.
    """
    from defdip.core.names import canonical

    out, given = {}, {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set {item!r}: expected NAME=VALUE, e.g. --set \"war end year=2030\"")
        name = name.strip()
        if canonical(name) in given:
            raise InputError(f"--set {item!r}: {name!r} is already set by --set {given[canonical(name)]!r}; "
                             "give each name once")
        given[canonical(name)] = item
        try:
            out[name] = float(value)
        except ValueError:
            raise InputError(f"--set {item!r}: value {value.strip()!r} is not a number") from None
    return out


def cmd_run(args) -> int:
    import gc

    from defdip.figures.render import Renderer

    # A run is short and makes little cyclic garbage; the collector's passes over the many
    # objects that importing pandas and PySD creates cost more than they free (about 3%
    # of a run's wall time), so collection waits until the run is done.
    gc.disable()
    try:
        # The figure worker starts first, so it imports matplotlib while this process
        # imports the rest and runs the model.
        with Renderer() as renderer:
            # every scenario is read and checked before anything runs
            return _run(args, scenarios_from("run", args.scenarios, args.model), renderer)
    finally:
        gc.enable()


def _run(args, scenarios, renderer) -> int:
    from defdip.io.pipeline import run_many

    sets = parse_sets(args.sets)
    if sets:
        scenarios = [s.with_overrides(sets) for s in scenarios]
    folders = run_many(scenarios, args.output, args.engine, args.force, ["defdip", *sys.argv[1:]], renderer)
    for folder in folders:
        print(_run_line(folder))
    return 0


def _run_line(folder: Path) -> str:
    """What a run found, in words a newcomer can read, and which of its files to open."""
    import json

    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    lines = [f"{summary['scenario']}: wrote {folder} (open trajectories.png; every variable by year in "
             "trajectories.csv; the numbers below in summary.json)"]
    if summary.get("phase_by_year"):
        lines.append(f"  phases: {_phase_spans(summary['phase_by_year'])}")
        lines.append(f"  verdict: {_verdict(summary)}")
    for element, verdict in summary.get("elements", {}).items():
        hold = summary.get("transition_persistence")
        lines.append(f"  {element}: phases {_phase_spans(verdict['phase_by_year'])}")
        lines.append(f"  {element}: verdict {_verdict({**verdict, 'transition_persistence': hold})}")
    if summary.get("cumulative_ri_value_2010_2024") is not None:
        lines.append(f"  arms delivered Russia->Iran 2010-2024: {summary['cumulative_ri_value_2010_2024']:.0f} "
                     "(million SIPRI TIV)")
    return "\n".join(lines)


def _phase_spans(phase_by_year: dict) -> str:
    """``{"2010": 1, ...}`` -> "1 tactical, one-sided 2010-2024; 2 tactical, two-sided 2025-2026; ..."."""
    from defdip.core.case import PHASE_LABELS

    spans = []  # [phase, first year, last year]
    for year, phase in ((int(y), int(round(p))) for y, p in phase_by_year.items()):
        if spans and spans[-1][0] == phase:
            spans[-1][2] = year
        else:
            spans.append([phase, year, year])
    return "; ".join(f"{PHASE_LABELS.get(p, f'phase {p}')} {a}" + (f"-{b}" if b > a else "") for p, a, b in spans)


def _verdict(summary: dict) -> str:
    """The transition year in words: strategic means phase 3 reached and held ``transition persistence`` years."""
    year, hold = summary.get("transition_year"), summary.get("transition_persistence") or 0
    rule = f"phase 3 reached and held {hold:g} years"
    if year is None:
        return f"the partnership never becomes strategic ({rule} never happens); transition year: none"
    return f"the partnership becomes strategic in {year:g} ({rule}); transition year: {year:g}"


def cmd_scenarios(args) -> int:
    from defdip.core.scenario import load_scenario
    from defdip.io.folders import copy_files

    if args.copy:
        written = copy_files(shipped_scenarios(), args.copy, args.force)
        print(f"copied {len(written)} scenario files to {args.copy}; run one with: defdip run "
              f"{args.copy / 'baseline.yaml'}")
        return 0
    for path in shipped_scenarios():
        scenario = load_scenario(path)
        print(f"{path.stem}\n" + textwrap.indent(textwrap.fill(scenario.description, 88), "    "))
    others = other_shipped_scenarios()
    if others:
        print("\nScenarios of the other shipped models (run by name as well):")
    for path in others:
        scenario = load_scenario(path)
        print(f"{path.stem} ({scenario.model.name})\n"
              + textwrap.indent(textwrap.fill(scenario.description, 88), "    "))
    return 0


def cmd_describe(args) -> int:
    from defdip.core.model import DEFAULT_MODEL, model_info

    info = model_info(args.model or DEFAULT_MODEL)
    if not args.name:
        for kind in ("stock", "auxiliary", "constant", "lookup", "data", "control"):
            names = [v.name for v in info.variables.values() if v.kind == kind]
            if names:
                print(f"{kind}s ({len(names)}):\n" + textwrap.indent(textwrap.fill(", ".join(names), 88), "    "))
        return 0
    var = info.resolve(args.name, where=str(info.path))
    bounds = f"[{_fmt(var.low)}, {_fmt(var.high)}]" if (var.low, var.high) != (None, None) else "not declared"
    dims = f"[{', '.join(var.subscripts)}]" if var.subscripts else ""
    print(f"{var.name}{dims}  ({var.kind})\n  equation: {var.equation}\n  units:    {var.units or '-'}\n"
          f"  range:    {bounds}\n" + textwrap.indent(textwrap.fill(f"source:   {var.comment}", 88), "  "))
    return 0


def _fmt(x):
    return "?" if x is None else f"{x:g}"


COMMANDS = {"run": cmd_run, "scenarios": cmd_scenarios, "describe": cmd_describe}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``defdip`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or COMMANDS[args.command]
    try:
        return handler(args)
    except DefdipError as exc:
        if args.debug:
            raise
        print(f"defdip: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into a pager or head that closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("defdip: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # a resource that ran out (exit 2), else a bug: one line unless --debug
        if args.debug:
            raise
        error = resource_error(exc)
        if error is not None:
            print(f"defdip: error: {error}", file=sys.stderr)
            return error.exit_code
        print(f"defdip: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        from defdip.io.claims import release_all

        release_all()  # the result folders this command claimed, written or not


if __name__ == "__main__":
    sys.exit(main())
