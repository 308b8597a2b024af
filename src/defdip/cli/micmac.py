"""``defdip micmac``, ``defdip loops`` and ``defdip trends``: the article's methods beside the model.

Handlers parse and check arguments and call :mod:`defdip.analysis.micmac`,
:mod:`defdip.analysis.experts`, :mod:`defdip.analysis.loops` and :mod:`defdip.analysis.trends`; results
are written atomically and never over an earlier result without ``--force``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from defdip.cli.commands import add_debug_flag
from defdip.core.resources import BASELINE, IMPACT_MAPPING, IMPACT_MATRIX
from defdip.core.resources import model_path

DEFAULT_MATRIX = IMPACT_MATRIX
DEFAULT_MAPPING = IMPACT_MAPPING
DEFAULT_OUTPUT = Path("results")
# each command's result folder, inside its -o folder
MICMAC_FOLDER, LOOPS_FOLDER, TRENDS_FOLDER = "micmac", "loops", "trends"
LOOPS_PRINTED = 40  # loops listed on the terminal without --all (besides the named ones)


def register(subparsers) -> None:
    """Add the ``micmac``, ``loops`` and ``trends`` sub-commands."""
    micmac = subparsers.add_parser(
        "micmac", help="MICMAC structural analysis of an impact matrix, checked against the model",
        description="Direct and indirect influence/dependence, classes, figures; with the shipped matrix "
                    "or --mapping, also the experts-vs-model report.")
    micmac.add_argument("matrix", nargs="?", type=Path, default=DEFAULT_MATRIX, metavar="MATRIX.csv",
                        help="0-3 impact matrix, row influences column (default: models/impact_matrix.csv)")
    micmac.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR",
                        help=f"parent folder: writes DIR/{MICMAC_FOLDER} (default: {DEFAULT_OUTPUT})")
    micmac.add_argument("--force", action="store_true", help="overwrite an earlier result")
    micmac.add_argument("--mapping", type=Path, metavar="FILE",
                        help="YAML: matrix variable -> model variables (default with the shipped matrix: "
                             "models/impact_matrix_mapping.yaml)")
    micmac.add_argument("--model", type=model_path, metavar="FILE.mdl", help="model for the experts-vs-model check")
    micmac.add_argument("--max-power", type=int, default=20, metavar="K", help="cap on the matrix power (20)")
    add_debug_flag(micmac)
    micmac.set_defaults(handler=cmd_micmac)

    loops = subparsers.add_parser(
        "loops", help="the model's feedback loops with their polarity from the equations",
        description="Feedback loops of the model's causal graph (constants left out), each with its "
                    "polarity from the signs of the links' partial derivatives along a run.")
    loops.add_argument("--model", type=model_path, metavar="FILE.mdl", help="Vensim model (default: the project model)")
    loops.add_argument("--max-length", type=int, default=16, metavar="N", help="longest loop listed [links] (16)")
    loops.add_argument("-o", "--output", type=Path, metavar="DIR",
                       help=f"also write loops.csv, links.csv and named_loops.csv to DIR/{LOOPS_FOLDER}")
    loops.add_argument("--force", action="store_true", help="overwrite an earlier result")
    loops.add_argument("--all", action="store_true", dest="list_all",
                       help=f"print every loop (default: the named ones and the {LOOPS_PRINTED} shortest)")
    add_debug_flag(loops)
    loops.set_defaults(handler=cmd_loops)

    trends = subparsers.add_parser(
        "trends", help="linear/exponential/logistic trends of the history and the model, to 2035",
        description="Trend analysis as the article did it, against the simulated baseline.")
    trends.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR",
                        help=f"parent folder: writes DIR/{TRENDS_FOLDER} (default: {DEFAULT_OUTPUT})")
    trends.add_argument("--force", action="store_true", help="overwrite an earlier result")
    add_debug_flag(trends)
    trends.set_defaults(handler=cmd_trends)


# --------------------------------------------------------------------------
# micmac


def cmd_micmac(args) -> int:
    from defdip.analysis.micmac import micmac, rank_shifts, read_matrix
    from defdip.core.errors import InputError
    from defdip.io.folders import check_writable

    if args.max_power < 2:
        raise InputError(f"--max-power: {args.max_power} is not allowed; give 2 or more")
    target = args.output / MICMAC_FOLDER
    check_writable(target, args.force, kind="micmac")
    matrix = read_matrix(args.matrix)
    result = micmac(matrix, args.max_power)
    report = _experts(args, matrix)
    write_micmac(target, matrix, result, report, args.force)
    table = result.table
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    note = "" if result.stable else f" (NOT stable: rankings still changed at the cap {result.max_power})"
    print(f"\nrankings stable at power k = {result.k}{note}")
    shifts = rank_shifts(table)
    if len(shifts):
        print("rank shifts direct -> indirect: " + ", ".join(
            f"{r.variable} {r.direct_rank}->{r.indirect_rank}" for r in shifts.itertuples()))
    if report is not None:
        corr = report.rankings.correlations.set_index("measure")
        print(f"experts vs model: Spearman of indirect influence {corr.loc['indirect_influence', 'spearman']:.2f}, "
              f"of direct influence {corr.loc['direct_influence', 'spearman']:.2f}; "
              f"{(report.cells['finding'] == 'no path in model').sum()} scored cells with no path in the model")
    print(f"wrote {target}")
    return 0


def _experts(args, matrix):
    """The experts-vs-model report when the matrix is the shipped one or a mapping is given, else None."""
    from defdip.analysis.experts import experts_vs_model, read_mapping
    from defdip.core.errors import InputError
    from defdip.core.model import DEFAULT_MODEL, model_info

    shipped = Path(args.matrix).resolve() == DEFAULT_MATRIX.resolve()
    if args.mapping is None and not shipped:
        if args.model is not None:
            raise InputError(f"--model {args.model}: checking {args.matrix} against a model needs --mapping FILE "
                             f"(matrix variable -> model variables)")
        return None
    model = args.model or DEFAULT_MODEL
    mapping = read_mapping(args.mapping or DEFAULT_MAPPING, matrix, model_info(model))
    return experts_vs_model(matrix, mapping, model)


def write_micmac(target: Path, matrix, result, report=None, force: bool = False) -> Path:
    """Write micmac.csv, summary.json, the figures and the experts-vs-model report into the result
    folder ``target``, atomically."""
    from defdip.analysis.experts import report_markdown
    from defdip.analysis.micmac import summary
    from defdip.figures.micmac import figure_graph, figure_map
    from defdip.figures.plotting import save_figure
    from defdip.io.folders import atomic_folder, write_json
    from defdip.io.provenance import versions

    with atomic_folder(target, force, kind="micmac") as work:
        result.table.to_csv(work / "micmac.csv", index=False, float_format="%.6g")
        data = summary(result, matrix)
        data["versions"] = versions()
        data["command_line"] = ["defdip", *sys.argv[1:]]
        if report is not None:
            data["experts_vs_model"] = {
                "model": str(report.model_path),
                "findings": report.cells[report.cells["expert_score"] > 0]["finding"].value_counts().to_dict(),
                "correlations": report.rankings.correlations.to_dict(orient="records"),
            }
            report.cells.to_csv(work / "experts_vs_model.csv", index=False, float_format="%.6g")
            report.scored.to_frame().astype(int).to_csv(work / "model_matrix.csv")
            (work / "experts_vs_model.md").write_text(report_markdown(report), encoding="utf-8")
        write_json(work / "summary.json", data)
        save_figure(figure_map(result.table), work / "micmac_map")
        save_figure(figure_graph(matrix, result.table), work / "micmac_graph")
    return target


# --------------------------------------------------------------------------
# loops


def cmd_loops(args) -> int:
    from defdip.analysis.loops import (
        check_max_length,
        check_named_loops,
        find_loops,
        link_effects,
        loops_table,
        mark_named,
    )
    from defdip.core.model import DEFAULT_MODEL
    from defdip.io.folders import check_writable

    check_max_length(args.max_length)
    target = None if args.output is None else args.output / LOOPS_FOLDER
    if target is not None:
        check_writable(target, args.force, kind="loops")
    model = args.model or DEFAULT_MODEL
    effects = link_effects(model)
    checks = check_named_loops(effects, model)
    loops = mark_named(find_loops(effects, args.max_length), checks)
    table = loops_table(loops)
    print(f"{len(loops)} feedback loops of at most {args.max_length} links "
          f"({(table['polarity'] == 'R').sum()} R, {(table['polarity'] == 'B').sum()} B, "
          f"{(table['polarity'] == '?').sum()} never active); polarity from the equations along the run")
    shown = table if args.list_all else table[(table.index < LOOPS_PRINTED) | (table["named"] != "")]
    for row in shown.itertuples(index=False):
        flags = (" mixed" if row.mixed else "") + (f"  [{row.named}]" if row.named else "")
        print(f"{row.loop:>5} {row.polarity} len {row.length:2d} active {row.active_share:4.0%}{flags}: "
              f"{row.variables}")
    if len(shown) < len(table):
        where = f"all of them in {target / 'loops.csv'}" if target is not None else "-o DIR writes all of them"
        print(f"... and {len(table) - len(shown)} more loops not printed ({where}; --all prints them)")
    for check in checks:
        if check.loop is None:
            print(f"{check.label}: documented {check.documented}; NOT FOUND, missing links {check.missing}")
        else:
            verdict = "matches" if check.matches else "MISMATCH"
            print(f"{check.label}: documented {check.documented}, computed {check.loop.polarity}"
                  f"{' (a link changes sign along the run)' if check.loop.mixed else ''}: {verdict}")
    if target is not None:
        _write_loops(target, table, effects, checks, args.force)
        print(f"wrote {target}")
    return 0


def _write_loops(target: Path, table, effects, checks, force: bool) -> None:
    import pandas as pd

    from defdip.io.folders import atomic_folder

    named = pd.DataFrame([{"loop": c.label, "documented": c.documented,
                           "computed": c.loop.polarity if c.loop else "", "mixed": bool(c.loop and c.loop.mixed),
                           "matches": c.matches,
                           "variables": " -> ".join(c.loop.nodes + c.loop.nodes[:1]) if c.loop else "",
                           "missing": "; ".join(f"{u} -> {v}" for u, v in c.missing)} for c in checks])
    with atomic_folder(target, force, kind="loops") as work:
        table.to_csv(work / "loops.csv", index=False)
        effects.table().to_csv(work / "links.csv", index=False, float_format="%.6g")
        named.to_csv(work / "named_loops.csv", index=False)


# --------------------------------------------------------------------------
# trends


def cmd_trends(args) -> int:
    from defdip.analysis.trends import analyse, load_series, trends_summary
    from defdip.core.model import model_info
    from defdip.core.scenario import load_scenario
    from defdip.engines.simulate import simulate
    from defdip.figures.plotting import save_figure
    from defdip.figures.trends import figure_trends
    from defdip.io.folders import atomic_folder, check_writable, write_json

    target = args.output / TRENDS_FOLDER
    check_writable(target, args.force, kind="trends")
    scenario = load_scenario(BASELINE)
    run = simulate(scenario)
    units = {n: v.units for n, v in model_info(scenario.model).variables.items()}
    analysis = analyse(load_series(), run.trajectories, units)
    summary = trends_summary(analysis, run.trajectories)
    with atomic_folder(target, args.force, kind="trends") as work:
        analysis.table.to_csv(work / "trends.csv", index=False, float_format="%.6g")
        write_json(work / "summary.json", summary)
        save_figure(figure_trends(analysis.panels), work / "trends")
    for name, row in summary["series"].items():
        band = ", ".join(f"{x:.3g}" for x in row["band_2035"])
        sim = "" if row["simulated_2035"] is None else f"; simulated {row['simulated_2035']:.3g}"
        print(f"{name}: {row['form']} (Akaike weight {row['akaike_weight']:.2f}), 2035 trend "
              f"{row['trend_2035']:.3g} [{band}]{sim}")
    print(f"wrote {target}")
    return 0
