"""A sweep's result folder: prepare (or resume) it, run the chunks, write the report, publish it.

The sweep works in ``OUT/<scenario>-<method>.partial/``: ``sweep.json`` (what the command
asked for) and ``samples.csv`` first, then the chunk files, then percentiles, outcomes,
indices, figures, ``summary.json`` and ``manifest.json``; the folder is then renamed to
``OUT/<scenario>-<method>``, so a finished folder is always whole.
"""
from __future__ import annotations

import json
import os
import shutil
import time as _time
from pathlib import Path

from defdip.core.errors import InputError
from defdip.engines.simulate import simulate
from defdip.figures.dominance import write_fan_figure
from defdip.figures.sweep import write_figures
from defdip.io.folders import check_writable, publish, release, write_json
from defdip.io.provenance import provenance
from defdip.sweep.dominance import PERCENTILES, dominance_statistics, statistics_table
from defdip.sweep.executors import check_scheduler, run_chunks
from defdip.sweep.plan import IDENTITY_FILE, SweepPlan, differences, identity
from defdip.sweep.report import collect_outcomes, headline, indices, percentiles
from defdip.sweep.screen import screen_table
from defdip.sweep.store import RESULTS_DIR, table_hash, write_netcdf

KIND = "sweep"  # the command named in a sweep folder's marker
# [bytes] a run's share of samples.csv and outcomes.csv beside its stored values (measured: about
# 1.1 KB a run for the baseline's Sobol sweep)
TABLE_BYTES_PER_RUN = 1200


def disk_needed(plan: SweepPlan) -> int:
    """Bytes a sweep writes, roughly: each stored output a float64 per saved step per run, plus
    its rows of the tables (the baseline: about 9 KB a run)."""
    return plan.runs * (8 * len(plan.outputs) * plan.scenario.time.saved_steps + TABLE_BYTES_PER_RUN)


def check_free_space(plan: SweepPlan, out_dir: Path) -> None:
    """Refuse, before anything is written, a sweep the disk under ``out_dir`` cannot hold.

    Raises
    ------
    InputError
        Naming the bytes needed and free.
    """
    existing = Path(out_dir).absolute()
    while not existing.exists():
        existing = existing.parent
    partial = Path(out_dir) / f"{plan.folder_name}.partial"
    done = sum(f.stat().st_size for f in partial.rglob("*") if f.is_file()) if partial.is_dir() else 0
    needed, free = disk_needed(plan) - done, shutil.disk_usage(existing).free
    if needed > free:
        raise InputError(f"-o {out_dir}: the sweep needs about {needed:,} bytes ({plan.runs:,} runs) and the "
                         f"disk has {free:,} free; free some space, give -o a folder on another disk or "
                         "use fewer --samples")


def prepare_folder(plan: SweepPlan, out_dir: Path, force: bool) -> tuple[Path, Path]:
    """Check the final folder and the partial one; returns ``(final, partial)``.

    Raises
    ------
    InputError
        If the final folder cannot be claimed (:func:`defdip.io.folders.check_writable`), or a
        partial folder holds a sweep started by a different command (``force`` discards it).
    """
    final = Path(out_dir) / plan.folder_name
    partial = final.with_name(final.name + ".partial")
    check_writable(final, force, kind=KIND)  # and hold it: one sweep at a time in this folder
    mine = identity(plan)
    if partial.exists() and (partial.is_symlink() or not partial.is_dir()):
        raise InputError(f"{partial}: is not a folder of an unfinished sweep; move it away or choose another -o")
    if partial.exists():
        try:
            theirs = json.loads((partial / IDENTITY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            theirs = {}
        if theirs != mine:
            if not force:
                what = ", ".join(differences(theirs, mine)) or "unreadable sweep.json"
                raise InputError(f"{partial}: holds an unfinished sweep from a different command (differs in: "
                                 f"{what}); rerun that command to resume it, or delete the folder (or add "
                                 "--force) to start this one afresh")
            shutil.rmtree(partial)
    if not partial.exists():
        partial.mkdir(parents=True)
        write_json(partial / IDENTITY_FILE, mine)
    samples = partial / "samples.csv"
    if not samples.is_file():
        tmp = partial / ".samples.csv.tmp"
        plan.table.to_csv(tmp, index_label="run", float_format="%.17g")
        os.replace(tmp, samples)
    return final, partial


def run_sweep(plan: SweepPlan, out_dir, force: bool = False, workers: int = 1, scheduler: str | None = None,
              progress: bool | None = None, command_line=None, figures: bool = True) -> Path:
    """Run a planned sweep to ``OUT_DIR/<scenario>-<method>``, resuming an interrupted one.

    Parameters
    ----------
    plan : SweepPlan
    out_dir : path
        Parent of the result folder.
    force : bool
        Replace an existing result folder; discard a partial one from another command.
    workers : int
        Local processes evaluating chunks (1: this process).
    scheduler : str, optional
        Address of a running Dask scheduler; chunks become Dask tasks.
    progress : bool, optional
        Progress bar on stderr (default: when stderr is a terminal).
    figures : bool
        Draw the figures.

    Returns
    -------
    Path
        The finished result folder.
    """
    if workers < 1:
        raise InputError(f"--workers: must be at least 1, got {workers}")
    if scheduler:
        check_scheduler(scheduler)  # before any folder is made
    check_free_space(plan, out_dir)
    started = _time.perf_counter()
    final, partial = prepare_folder(plan, out_dir, force)
    paths = run_chunks(plan, partial, workers, scheduler, progress)
    elapsed = _time.perf_counter() - started
    write_report(plan, partial, paths, figures)
    write_json(partial / "manifest.json", _manifest(plan, workers, scheduler, command_line, elapsed,
                                                  _time.perf_counter() - started))
    publish(partial, final, KIND)  # the --force check was made before the sweep began
    release(final, published=True)
    return final


def _manifest(plan, workers, scheduler, command_line, sim_time, wall_time) -> dict:
    return provenance(plan.scenario, plan.engine, command_line, method=plan.method, samples=plan.samples,
                      seed=plan.seed, runs=plan.runs, chunk_size=plan.chunk_size, chunks=len(plan.chunks()),
                      workers=workers, scheduler=scheduler, results=f"{RESULTS_DIR}/chunk-*.nc (dims run x time)",
                      samples_sha256=table_hash(plan.table), simulation_wall_time_s=round(sim_time, 3),
                      wall_time_s=round(wall_time, 3))


def write_report(plan: SweepPlan, folder: Path, paths, figures: bool = True) -> dict:
    """Write percentiles.nc, outcomes.csv, indices.csv, summary.json and the figures into ``folder``."""
    stats = percentiles(paths, plan.outputs, plan.runs)
    write_netcdf(stats, folder / "percentiles.nc")
    experiments = collect_outcomes(plan, paths, folder / "outcomes.csv")  # streamed, chunk by chunk
    table = indices(plan, experiments, stats["time"].to_numpy())
    if table is not None:
        table.to_csv(folder / "indices.csv", index=False, float_format="%.17g")
    screen = screen_table(plan, table)  # morris --vary all: the global screen
    if screen is not None:
        screen.to_csv(folder / "screen.csv", index=False, float_format="%.10g")
    summary = headline(plan, experiments, table)
    if plan.dominance:
        summary["dominance"] = write_dominance(plan, folder, paths, figures)
    write_json(folder / "summary.json", summary)
    if figures:
        run = simulate(plan.scenario, plan.engine)  # the deterministic scenario, overlaid
        write_figures(folder, plan, stats, experiments, table, run.trajectories)
    return summary


def write_dominance(plan: SweepPlan, folder: Path, paths, figures: bool = True) -> dict:
    """``dominance.csv`` (per documented loop and time: share of runs dominant, percentiles of its
    relative score) and ``dominance_fan.png``; returns the summary's ``dominance`` entry."""
    stats = dominance_statistics(paths)
    statistics_table(stats).to_csv(folder / "dominance.csv", index=False, float_format="%.6g")
    if figures and stats.sizes.get("loop"):
        time = stats["time"].to_numpy()
        fans = {loop: ({p: stats["relative"].sel(loop=loop, percentile=p).to_numpy() for p in PERCENTILES},
                       stats["share_dominant"].sel(loop=loop).to_numpy()) for loop in stats["loop"].values}
        write_fan_figure(folder / "dominance_fan", time, fans, plan.scenario.name)
    return {str(loop): {"mean_share_dominant": round(float(stats["share_dominant"].sel(loop=loop).mean()), 6)}
            for loop in stats["loop"].values}
