"""``defdip explore``: move the assumptions and watch every trajectory respond, in the browser."""
from __future__ import annotations

from pathlib import Path

from defdip.cli.commands import add_debug_flag, scenarios_from
from defdip.core.resources import scenario_path
from defdip.core.resources import model_path

EXTRA = "explore"
# What the optional extra installs; importing either fails without it.
EXTRA_MODULES = ("panel", "bokeh")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explore", help="explore a scenario live in the browser (local server on 127.0.0.1)",
        description="Start a local web app (Panel on Bokeh, on 127.0.0.1 only, every asset served locally): "
                    "a slider per constant of the scenario (per element of a subscripted one), grouped by the "
                    "model's views, the run figure's "
                    "panels redrawn on every change, an uncertainty band over the scenario's uncertainties, "
                    "loop dominance, pinning, overlays, and saving the settings as a scenario file. "
                    f"Needs the optional extra: pip install 'defdip[{EXTRA}]'.")
    parser.add_argument("scenario", nargs="?", type=scenario_path, metavar="SCENARIO",
                        help="scenario file, or a shipped scenario's name (default: baseline)")
    parser.add_argument("--model", type=model_path, metavar="FILE.mdl", help="explore any Vensim model with its own settings")
    parser.add_argument("--port", type=int, default=5006, metavar="N", help="TCP port (default 5006; 0: any free)")
    parser.add_argument("--save-dir", type=Path, default=Path("."), metavar="DIR",
                        help="the one folder the page saves scenario files and figures into (default: .)")
    parser.add_argument("--band-runs", type=int, default=200, metavar="N",
                        help="runs in the uncertainty band (default 200)")
    parser.add_argument("--no-browser", action="store_true", help="print the address, do not open a browser")
    add_debug_flag(parser)
    parser.set_defaults(handler=cmd_explore)


def cmd_explore(args) -> int:
    from defdip.core.errors import InputError

    (scenario,) = scenarios_from("explore", [args.scenario] if args.scenario else [], args.model)
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port: {args.port} is not a TCP port; allowed: 0 to 65535")
    check_port(args.port)
    if args.band_runs < 1:
        raise InputError(f"--band-runs: needs at least 1, got {args.band_runs}")
    if args.save_dir.exists() and not args.save_dir.is_dir():
        raise InputError(f"--save-dir: {args.save_dir} is a file; give a folder")
    from defdip.core.model import model_info
    from defdip.engines.simulate import check_ensemble_supports
    from defdip.io.explore_workers import worker_pool

    # the page re-runs the model on every change with the compiled engine, which must read it
    check_ensemble_supports(model_info(scenario.model), instead="explore needs that engine; "
                            "`defdip run --engine pysd` runs the model")

    pool = worker_pool(scenario)  # before Panel's import: the worker loads the engine meanwhile
    try:
        app = load_app()
        config = app.ExploreConfig(scenario, args.save_dir.resolve(), band_runs=args.band_runs, pool=pool)

        def ready(url: str) -> None:
            print(f"defdip explore: {scenario.name} at {url} (saving into {config.save_dir}; Ctrl-C stops)",
                  flush=True)

        app.serve(config, args.port, open_browser=not args.no_browser, on_ready=ready)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return 0


HOST = "127.0.0.1"  # the explorer's interface (defdip.io.explore_app.HOST; a test keeps them equal)


def check_port(port: int, host: str = HOST) -> None:
    """Refuse, before anything starts, a port another program is listening on.

    The probe binds as the server will (``SO_REUSEADDR``, as tornado does), so a port left in
    TIME_WAIT by an earlier explorer is not mistaken for a busy one. Port 0 (any free) passes.

    Raises
    ------
    InputError
        Naming the port and what to do.
    """
    import socket

    from defdip.core.errors import InputError

    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InputError(f"--port {port}: {host}:{port} is in use ({exc.strerror}); give another --port, "
                             "or --port 0 for any free one") from None


def load_app():
    """The explorer's server module, or a clear message when the ``explore`` extra is missing.

    Imported here, not at the top: Panel and Bokeh take about a second to import and are an
    optional extra, which every other command does without.
    """
    from defdip.core.errors import InputError

    try:
        from defdip.io import explore_app
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in EXTRA_MODULES:
            raise
        raise InputError(f"explore: needs the optional extra {EXTRA!r} ({missing} is not installed); "
                         f"install it with: pip install 'defdip[{EXTRA}]'") from None
    return explore_app
