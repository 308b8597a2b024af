"""``defdip validate`` (the model's tests) and ``defdip calibrate`` (fit to the record)."""
from __future__ import annotations

import argparse
from pathlib import Path

from defdip.cli.commands import BATCH_ENGINE_HELP, add_debug_flag, scenarios_from
from defdip.core.resources import scenario_path
from defdip.core.resources import model_path

PARTS = ("ceiling", "checks", "convergence", "extremes", "reproduction", "units")
DEFAULT_OUTPUT = Path("results")
VALIDATE_FOLDER, CALIBRATE_FOLDER = "validation", "calibration"  # result folders inside -o


def register(subparsers) -> None:
    """Add the ``validate`` and ``calibrate`` sub-commands."""
    p = subparsers.add_parser("validate", help="reality checks, convergence, extreme conditions, fit, units",
                              description="Run the model's tests; exit 1 if any fails.")
    p.add_argument("scenario", nargs="?", type=scenario_path,
                   help="scenario file or shipped scenario name (default: baseline)")
    p.add_argument("--checks", help="reality checks file (default: the model's own, NAME.checks.yaml beside NAME.mdl; "
                   "none there: the checks part is skipped)")
    p.add_argument("--model", type=model_path, help="validate this .mdl with its own settings instead of a scenario")
    p.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR",
                   help=f"parent folder: writes DIR/{VALIDATE_FOLDER} (default: {DEFAULT_OUTPUT})")
    p.add_argument("--force", action="store_true", help="overwrite an earlier result")
    p.add_argument("--engine", help=BATCH_ENGINE_HELP)
    p.add_argument("--skip", default="", help=f"comma-separated parts to skip: {','.join(PARTS)}")
    add_debug_flag(p)
    p.set_defaults(handler=_validate)

    c = subparsers.add_parser("calibrate", help="fit uncertain constants to the historical record",
                              description="Fit constants to SIPRI 2010-2021, the cumulative 481 and "
                                          "phase timing; write calibrated.yaml and calibration.json.")
    c.add_argument("scenario", type=scenario_path, help="scenario file or shipped scenario name")
    c.add_argument("--params", nargs="+", metavar="NAME", help="constants to fit (default: uncertainties)")
    c.add_argument("--method", default="local", help="local (least squares) or global (differential evolution)")
    c.add_argument("--seed", type=int, default=0, help="seed of the global search and the bootstrap")
    c.add_argument("--bootstrap", type=int, default=30, help="bootstrap refits for the intervals")
    c.add_argument("--max-iterations", type=int, default=60, metavar="N",
                   help="iterations allowed to each least-squares fit (default: 60)")
    c.add_argument("--generations", type=int, default=30, metavar="N",
                   help="generations of differential evolution with --method global (default: 30)")
    c.add_argument("--engine", help=BATCH_ENGINE_HELP)
    c.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR",
                   help=f"parent folder: writes DIR/{CALIBRATE_FOLDER} (default: {DEFAULT_OUTPUT})")
    c.add_argument("--force", action="store_true", help="overwrite an earlier result")
    add_debug_flag(c)
    c.set_defaults(handler=_calibrate)


def _engine(name):
    from defdip.engines.simulate import check_engine

    return check_engine(name)


def _scenario(path, model):
    (scenario,) = scenarios_from("validate", [path] if path else [], model)
    return scenario


def _validate(args: argparse.Namespace) -> int:
    from defdip.core.errors import InputError
    from defdip.core.resources import checks_file
    from defdip.figures.plotting import save_figure
    from defdip.figures.validation import model_vs_data
    from defdip.io.folders import atomic_folder, check_writable, write_json
    from defdip.io.provenance import versions
    from defdip.validation.validate import summary_table, validate_all

    skip = tuple(s.strip() for s in args.skip.split(",") if s.strip())
    for s in skip:
        if s not in PARTS:
            raise InputError(f"--skip: unknown part {s!r}; allowed: {', '.join(PARTS)}")
    scenario = _scenario(args.scenario, args.model)
    checks = Path(args.checks) if args.checks else checks_file(scenario.model)
    if args.checks and not checks.is_file():
        raise InputError(f"--checks: {checks}: file not found")
    if not checks.is_file() and "checks" not in skip:
        print(f"no reality checks for {scenario.model.name} ({checks.name} beside it, or --checks FILE); "
              "the checks part is skipped")
        skip += ("checks",)
    engine = _engine(args.engine)
    target = args.output / VALIDATE_FOLDER
    check_writable(target, args.force, kind="validate")
    rows, frame = validate_all(scenario, checks, engine, skip)
    print(summary_table(rows))
    with atomic_folder(target, args.force, kind="validate") as work:
        write_json(work / "validation.json", {
            "scenario": scenario.name, "model": str(scenario.model), "engine": engine, "skipped": list(skip),
            "passed": all(r.passed for r in rows), "versions": versions(),
            "results": [{"group": r.group, "name": r.name, "passed": r.passed, "detail": r.detail,
                         "numbers": r.numbers} for r in rows]})
        if {"Cumulative Transfer Value Russia to Iran", "Arms Transfers Iran to Russia"} <= set(frame):
            save_figure(model_vs_data(frame), work / "model_vs_data")
    return 0 if all(r.passed for r in rows) else 1


def _calibrate(args: argparse.Namespace) -> int:
    import yaml

    from defdip.core.errors import InputError
    from defdip.figures.plotting import save_figure
    from defdip.figures.validation import figure_calibration
    from defdip.io.folders import atomic_folder, check_writable, write_json
    from defdip.sweep.sampling import check_seed
    from defdip.validation.calibrate import (
        METHODS,
        calibrate,
        calibrated_scenario,
        parameters,
        report,
        run_budget,
    )

    if args.method not in METHODS:
        raise InputError(f"--method: {args.method!r} is not allowed; allowed: {', '.join(METHODS)}")
    check_seed(args.seed)
    if args.bootstrap < 0:
        raise InputError(f"--bootstrap: must be 0 or more, got {args.bootstrap}")
    for option, value in (("--max-iterations", args.max_iterations), ("--generations", args.generations)):
        if value < 1:
            raise InputError(f"{option}: must be at least 1, got {value}")
    scenario = _scenario(args.scenario, None)
    engine = _engine(args.engine)
    target = args.output / CALIBRATE_FOLDER
    check_writable(target, args.force, kind="calibrate")
    names = parameters(scenario, args.params)[0]
    budget = run_budget(len(names), args.method, args.bootstrap, args.max_iterations, args.generations)
    print(f"fitting {len(names)} constants ({args.method}, {args.bootstrap} bootstrap refits): at most "
          f"{budget:,} model runs on the {engine} engine", flush=True)
    cal = calibrate(scenario, args.params, args.method, args.seed, engine, bootstrap=args.bootstrap,
                    max_nfev=args.max_iterations, global_iterations=args.generations)
    _print(cal)
    with atomic_folder(target, args.force, kind="calibrate") as work:
        content = calibrated_scenario(cal, scenario, target.resolve())
        (work / "calibrated.yaml").write_text(yaml.safe_dump(content, sort_keys=False, width=100),
                                              encoding="utf-8")
        write_json(work / "calibration.json", report(cal))
        b, a = cal.before, cal.after
        save_figure(figure_calibration(b["years"], b["observed"], (b["years"], b["simulated"]),
                                       (a["years"], a["simulated"]), (b["cost"], a["cost"])),
                    work / "calibration")
    return 0


def _print(cal) -> None:
    print(f"{'constant':<30}{'start':>10}{'fitted':>11}   95% interval")
    for n, s, f, (lo, hi) in zip(cal.names, cal.start, cal.fitted, cal.interval):
        print(f"{n:<30}{s:>10.4g}{f:>11.4g}   [{lo:.4g}, {hi:.4g}]")
    for key in ("cost", "mape", "r2", "theil_um", "theil_us", "theil_uc", "cumulative"):
        print(f"{key:<12} before {cal.before[key]:.4g}  after {cal.after[key]:.4g}")
    print(f"{cal.evaluations} model runs")
