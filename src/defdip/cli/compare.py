"""``defdip compare`` and ``defdip report``: scenarios side by side, as files and as one HTML page."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from defdip.cli.commands import add_debug_flag
from defdip.core.resources import scenario_path, shipped_glob

DEFAULT_OUTPUT = Path("results")


def register(subparsers) -> None:
    """Add the ``compare`` and ``report`` sub-commands."""
    compare = subparsers.add_parser(
        "compare", help="scenarios side by side: figures, a metrics table and optionally an HTML report",
        description="Compare scenario files (run here) and result folders of `defdip run` (read back).")
    _add_arguments(compare)
    compare.add_argument("--html", action="store_true", help="also write the self-contained report.html")
    compare.set_defaults(handler=cmd_compare, html=False, folder="compare")

    report = subparsers.add_parser(
        "report", help="compare scenarios and write one self-contained HTML report",
        description="`defdip compare ... --html`: the comparison plus report.html, which opens offline.")
    _add_arguments(report)
    report.set_defaults(handler=cmd_compare, html=True, folder="report")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=scenario_path, metavar="SCENARIO_OR_RESULT_DIR",
                        help="scenario files (.yaml) and result folders of `defdip run`, in any mix")
    parser.add_argument("--vars", nargs="+", metavar="NAME",
                        help="indicators to compare (default: the key indicators)")
    parser.add_argument("--reference", metavar="NAME",
                        help="run to take differences from (default: baseline if present, else the first)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR",
                        help=f"parent folder: writes DIR/{parser.prog.split()[-1]} (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--force", action="store_true", help="overwrite an earlier comparison")
    parser.add_argument("--align", action="store_true",
                        help="interpolate runs with different time grids, time steps or models onto a common grid")
    parser.add_argument("--sweep", type=Path, metavar="DIR", help="a sweep result folder to add to the HTML report")
    parser.add_argument("--discovery", type=Path, metavar="DIR",
                        help="a `defdip discover` result folder to add to the HTML report")
    parser.add_argument("--engine", default="pysd", help="engine for scenario files (default: pysd)")
    add_debug_flag(parser)


def cmd_compare(args) -> int:
    from defdip.compare.gather import build_comparison, gather_runs, metrics_table
    from defdip.compare.text import table_text
    from defdip.core.errors import InputError
    from defdip.io.folders import check_writable

    if args.sweep is not None and not args.html:
        raise InputError("--sweep: only the HTML report shows a sweep; add --html (or use `defdip report`)")
    if args.sweep is not None:
        from defdip.io.discovery_folder import check_sweep_folder

        try:
            check_sweep_folder(args.sweep)
        except InputError as exc:
            raise InputError(f"--sweep {exc}") from None
    discovery = getattr(args, "discovery", None)
    if discovery is not None and not (discovery / "summary.json").is_file():
        raise InputError(f"--discovery {discovery}: no summary.json; give the result folder of `defdip discover`")
    if discovery is not None and not args.html:
        raise InputError("--discovery: only the HTML report shows it; add --html (or use `defdip report`)")
    target = args.output / args.folder
    check_writable(target, args.force, kind="compare")  # refuse before anything runs
    runs = gather_runs(shipped_glob(args.inputs), args.engine)
    comparison = build_comparison(runs, args.vars, args.reference, args.align)
    table = metrics_table(comparison)
    for note in comparison.notes:
        print(f"note: {note}")
    write_comparison(target, comparison, table, html=args.html, sweep_dir=args.sweep, force=args.force,
                     command_line=["defdip", *sys.argv[1:]], discovery_dir=discovery)
    print(table_text(table, comparison.variables, comparison.reference))
    print(f"\n* reference; differences from it in brackets. Wrote {target}"
          + (f" (report: {target / 'report.html'})" if args.html else ""))
    return 0


def write_comparison(target: Path, comparison, table, html: bool = False, sweep_dir: Path | None = None,
                     force: bool = False, command_line: list[str] | None = None,
                     discovery_dir: Path | None = None) -> Path:
    """Write compare.csv, the figures (PNG and SVG), manifest.json and optionally report.html, atomically.

    ``target`` is the result folder itself (``compare`` or ``report`` inside the command's ``-o``).

    Returns
    -------
    Path
        ``target``.
    """
    from defdip.figures.compare import comparison_figures
    from defdip.figures.plotting import save_figure
    from defdip.io.folders import atomic_folder, write_json
    from defdip.io.provenance import versions

    with atomic_folder(target, force, kind="compare") as work:
        table.to_csv(work / "compare.csv", float_format="%.6g")
        figures = {}
        for stem, fig in comparison_figures(comparison).items():
            save_figure(fig, work / stem)
            figures[stem] = work / f"{stem}.png"
        if html:
            from defdip.io.report import write_report

            write_report(work / "report.html", comparison, table, figures, sweep_dir, discovery_dir=discovery_dir)
        write_json(work / "manifest.json", {
            "runs": [{"name": r.name, "kind": r.kind, "source": str(r.source), "model_file": str(r.model),
                      "model_sha256": r.model_sha256, "dt": r.dt, "engine": r.engine} for r in comparison.runs],
            "reference": comparison.reference, "variables": list(comparison.variables),
            "notes": list(comparison.notes), "sweep": str(sweep_dir) if sweep_dir else None,
            "files": sorted(p.name for p in work.iterdir()) + ["manifest.json"],
            "versions": versions(), "command_line": command_line or []})
    return target
