"""``sweep --dominance``: loop dominance in every run, and its statistics over the ensemble.

Each chunk's runs are scored by :func:`defdip.analysis.dominance.dominance` (the same code
path as one run) and two arrays per documented loop are stored in the chunk file beside the
outputs: its relative loop score and whether it is in the dominant set, dims run x time.
:func:`dominance_statistics` reads them back: per loop and time, the share of runs in which
the loop dominates and percentiles of its relative score.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from defdip.analysis.dominance import dominance
from defdip.core.scenario import Scenario

PREFIX = "dominance "
PERCENTILES = (5, 25, 50, 75, 95)


def relative_name(loop: str) -> str:
    return f"{PREFIX}{loop} relative"


def dominant_name(loop: str) -> str:
    return f"{PREFIX}{loop} dominant"


def chunk_dominance(scenario: Scenario, samples: pd.DataFrame) -> dict[str, np.ndarray]:
    """Relative score and dominant flag (1/0) of each documented loop, (runs, T) each."""
    named = dominance(scenario).loops.named  # the loop set; cached structure, one run
    result = dominance(scenario, samples, keep=[i for i, label in enumerate(named) if label])
    out = {}
    for i, label in enumerate(result.loops.named):
        if label:
            out[relative_name(label)] = result.relative_score[i]
            out[dominant_name(label)] = result.dominant[i].astype(np.float64)
    return out


def dominance_statistics(paths) -> xr.Dataset:
    """Share of runs dominant and percentiles of the relative score, per documented loop and time.

    Returns
    -------
    xarray.Dataset
        ``share_dominant`` (loop, time) [0-1] and ``relative`` (loop, percentile, time).
    """
    from defdip.sweep.store import open_chunk

    relative: dict[str, list] = {}
    flags: dict[str, list] = {}
    time = None
    for path in paths:
        with open_chunk(path) as ds:
            time = ds["time"].to_numpy()
            for name in ds.data_vars:
                if name.startswith(PREFIX) and name.endswith(" relative"):
                    loop = name[len(PREFIX):-len(" relative")]
                    relative.setdefault(loop, []).append(ds[name].to_numpy())
                    flags.setdefault(loop, []).append(ds[dominant_name(loop)].to_numpy())
    loops = sorted(relative)
    rel = {k: np.concatenate(v) for k, v in relative.items()}
    share = np.array([np.concatenate(flags[k]).mean(axis=0) for k in loops]).reshape(len(loops), -1)
    with warnings.catch_warnings():  # the last saved time has no score in any run: its percentiles are NaN
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        quantiles = np.array([np.nanpercentile(rel[k], PERCENTILES, axis=0) if np.isfinite(rel[k]).any()
                              else np.full((len(PERCENTILES), len(time)), np.nan) for k in loops])
    return xr.Dataset({"share_dominant": (("loop", "time"), share),
                       "relative": (("loop", "percentile", "time"),
                                    quantiles.reshape(len(loops), len(PERCENTILES), -1))},
                      coords={"loop": loops, "percentile": list(PERCENTILES), "time": time})


def statistics_table(stats: xr.Dataset) -> pd.DataFrame:
    """Long form for ``dominance.csv``: time, loop, share_dominant, p5 ... p95."""
    rows = []
    for loop in stats["loop"].values:
        frame = pd.DataFrame({"time": stats["time"].values, "loop": loop,
                              "share_dominant": stats["share_dominant"].sel(loop=loop).values})
        for p in PERCENTILES:
            frame[f"p{p}"] = stats["relative"].sel(loop=loop, percentile=p).values
        rows.append(frame)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["time", "loop", "share_dominant", *(f"p{p}" for p in PERCENTILES)])
