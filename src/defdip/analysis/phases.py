"""Read a run: partnership phases, the transition year and the summary users cite.

Pure functions over arrays and data frames; nothing here runs a model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from defdip.core.case import (
    CUMULATIVE_RI,
    DEFAULT_PERSISTENCE,
    INDICATOR_YEARS,
    KEY_INDICATORS,
    PERSISTENCE,
    PHASE,
    STRATEGIC,
)


def phase_by_year(time: np.ndarray, phase: np.ndarray) -> dict[int, int]:
    """Phase at mid-year for every whole year the run covers.

    Parameters
    ----------
    time : array [Year]
        Saved times, increasing.
    phase : array
        Partnership phase (1, 2 or 3) at those times.

    Returns
    -------
    dict
        Year -> phase held at ``year + 0.5`` (the last saved value at or before it).
    """
    time, phase = np.asarray(time, float), np.asarray(phase)
    years = range(int(np.ceil(time[0])), int(np.floor(time[-1] - 0.5)) + 1)
    out = {}
    for year in years:
        idx = np.searchsorted(time, year + 0.5 + 1e-9, side="right") - 1
        out[year] = int(round(float(phase[idx])))
    return out


def phase_changes(time: np.ndarray, phase: np.ndarray) -> list[dict]:
    """Every change of phase: ``{"year": time of the first step in the new phase, "from", "to"}``."""
    time, phase = np.asarray(time, float), np.rint(np.asarray(phase)).astype(int)
    changed = np.nonzero(phase[1:] != phase[:-1])[0] + 1
    return [{"year": float(time[i]), "from": int(phase[i - 1]), "to": int(phase[i])} for i in changed]


def transition_year(time: np.ndarray, phase: np.ndarray, persistence: float = DEFAULT_PERSISTENCE,
                    final_time: float | None = None) -> float | None:
    """First time after which phase 3 holds without a break for at least ``persistence``.

    Parameters
    ----------
    time : array [Year]
        Saved times, increasing.
    phase : array
        Partnership phase at those times.
    persistence : float [Year]
        Minimum unbroken duration in phase 3.
    final_time : float, optional [Year]
        End of the run (default: the last saved time). A stretch still running at the
        final time counts only if it has already lasted ``persistence``.

    Returns
    -------
    float or None
    """
    time = np.asarray(time, float)
    strategic = np.rint(np.asarray(phase)) == STRATEGIC
    end = time[-1] if final_time is None else final_time
    i, n = 0, len(time)
    while i < n:
        if not strategic[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and strategic[j + 1]:
            j += 1
        stop = time[j + 1] if j + 1 < n else end
        if stop - time[i] >= persistence - 1e-9:
            return float(time[i])
        i = j + 1
    return None


def value_at(frame: pd.DataFrame, column: str, year: float) -> float | None:
    """Linear interpolation of a column at a time; ``None`` outside the run."""
    time = frame.index.to_numpy(float)
    if year < time[0] - 1e-9 or year > time[-1] + 1e-9:
        return None
    return float(np.interp(year, time, frame[column].to_numpy(float)))


def summarise(frame: pd.DataFrame, scenario_name: str, indicators=KEY_INDICATORS,
              persistence: float | None = None) -> dict:
    """The ``summary.json`` content for one run (keys as in the interface contract)."""
    time = frame.index.to_numpy(float)
    if persistence is None:
        persistence = float(frame[PERSISTENCE].iloc[0]) if PERSISTENCE in frame else DEFAULT_PERSISTENCE
    summary = {"scenario": scenario_name, "phase_by_year": {}, "phase_changes": [],
               "transition_year": None, "cumulative_ri_value_2010_2024": None, "indicators": {}}
    if PHASE in frame:
        phase = frame[PHASE].to_numpy()
        summary["phase_by_year"] = {str(y): p for y, p in phase_by_year(time, phase).items()}
        summary["phase_changes"] = phase_changes(time, phase)
        summary["transition_year"] = transition_year(time, phase, persistence)
        summary["transition_persistence"] = persistence
    if CUMULATIVE_RI in frame:
        start, end = value_at(frame, CUMULATIVE_RI, 2010), value_at(frame, CUMULATIVE_RI, 2025)
        if start is not None and end is not None:
            summary["cumulative_ri_value_2010_2024"] = end - start
    summary["indicators"] = {
        name: {str(y): value_at(frame, name, y) for y in INDICATOR_YEARS if value_at(frame, name, y) is not None}
        for name in indicators if name in frame}
    return summary


def summary_of(result) -> dict:
    """``summary.json`` content for a run."""
    indicators = tuple(dict.fromkeys(KEY_INDICATORS + tuple(result.scenario.outputs)))
    return summarise(result.trajectories, result.scenario.name, indicators)
