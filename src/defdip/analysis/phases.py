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

TOLERANCE = 1e-9  # [Year] slack on comparisons of times, which fall on saved steps


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
        idx = np.searchsorted(time, year + 0.5 + TOLERANCE, side="right") - 1
        out[year] = int(round(float(phase[idx])))
    return out


def phase_changes(time: np.ndarray, phase: np.ndarray) -> list[dict]:
    """Every change of phase: ``{"year": time of the first step in the new phase, "from", "to"}``."""
    time, phase = np.asarray(time, float), np.rint(np.asarray(phase)).astype(int)
    changed = np.nonzero(phase[1:] != phase[:-1])[0] + 1
    return [{"year": float(time[i]), "from": int(phase[i - 1]), "to": int(phase[i])} for i in changed]


def values_at(time: np.ndarray, values: np.ndarray, year: float) -> np.ndarray:
    """Each run's value at ``year``, linear between saved times; NaN outside the run.

    Parameters
    ----------
    time : array (times,) [Year]
    values : array (runs, times)

    Returns
    -------
    numpy.ndarray (runs,)
    """
    time = np.asarray(time, float)
    values = np.asarray(values, float)
    if year < time[0] - TOLERANCE or year > time[-1] + TOLERANCE:
        return np.full(values.shape[0], np.nan)
    exact = np.nonzero(np.abs(time - year) <= TOLERANCE)[0]
    if len(exact):  # a saved time: the value itself, not an interpolation that may round
        return values[:, exact[0]].copy()
    i = int(np.searchsorted(time, year, side="right") - 1)
    w = (year - time[i]) / (time[i + 1] - time[i])
    return values[:, i] + w * (values[:, i + 1] - values[:, i])


def transition_years(time: np.ndarray, phase: np.ndarray, persistence=DEFAULT_PERSISTENCE,
                     final_time: float | None = None) -> np.ndarray:
    """The transition year of every run: the first time after which phase 3 holds without a break
    for at least ``persistence``. This is the one definition; :func:`transition_year` is it for one run.

    Parameters
    ----------
    time : array (times,) [Year]
    phase : array (runs, times)
        Partnership phase.
    persistence : float or array (runs,) [Year]
        Minimum unbroken time in phase 3.
    final_time : float, optional [Year]
        End of the runs (default: the last saved time).

    Returns
    -------
    numpy.ndarray (runs,) [Year]
        Start of the first persistent strategic stretch; NaN where there is none.
    """
    time = np.asarray(time, float)
    strategic = np.rint(np.asarray(phase, float)) == STRATEGIC
    runs, n = strategic.shape
    end = time[-1] if final_time is None else final_time
    # For every step, the index of the next non-strategic step (n when none): where the
    # stretch containing that step stops.
    index = np.where(strategic, n, np.arange(n))
    next_break = np.minimum.accumulate(index[:, ::-1], axis=1)[:, ::-1]
    stop = np.append(time, end)[next_break]
    starts = strategic & np.concatenate([np.ones((runs, 1), bool), ~strategic[:, :-1]], axis=1)
    persistence = np.broadcast_to(np.asarray(persistence, float), (runs,))[:, None]
    lasting = starts & (stop - time[None, :] >= persistence - TOLERANCE)
    first = np.argmax(lasting, axis=1)
    return np.where(lasting.any(axis=1), time[first], np.nan)


def years_in_phase(time: np.ndarray, phase: np.ndarray, which: int, final_time: float | None = None) -> np.ndarray:
    """Years each run spends in phase ``which`` [Year]; each saved value holds until the next save."""
    time = np.asarray(time, float)
    end = time[-1] if final_time is None else final_time
    held = np.diff(np.append(time, end))
    return (np.rint(np.asarray(phase, float)) == which) @ held


def transition_year(time: np.ndarray, phase: np.ndarray, persistence: float = DEFAULT_PERSISTENCE,
                    final_time: float | None = None) -> float | None:
    """:func:`transition_years` of one run [Year]; ``None`` when phase 3 never lasts ``persistence``.

    A stretch still running at ``final_time`` (default: the last saved time) counts only if it
    has already lasted ``persistence``.
    """
    year = transition_years(time, np.asarray(phase, float)[None, :], persistence, final_time)[0]
    return None if np.isnan(year) else float(year)


def value_at(frame: pd.DataFrame, column: str, year: float) -> float | None:
    """:func:`values_at` of one column of a run's trajectories; ``None`` outside the run."""
    value = values_at(frame.index.to_numpy(float), frame[column].to_numpy(float)[None, :], year)[0]
    return None if np.isnan(value) else float(value)


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
    elements = element_phases(frame)
    if elements:
        summary["elements"] = {
            element: {"phase_by_year": {str(y): p for y, p in phase_by_year(time, phase).items()},
                      "phase_changes": phase_changes(time, phase),
                      "transition_year": transition_year(time, phase, persistence)}
            for element, phase in elements.items()}
        summary["transition_persistence"] = persistence
    if CUMULATIVE_RI in frame:
        start, end = value_at(frame, CUMULATIVE_RI, 2010), value_at(frame, CUMULATIVE_RI, 2025)
        if start is not None and end is not None:
            summary["cumulative_ri_value_2010_2024"] = end - start
    summary["indicators"] = {
        name: {str(y): value_at(frame, name, y) for y in INDICATOR_YEARS if value_at(frame, name, y) is not None}
        for name in indicators if name in frame}
    return summary


def element_phases(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """A subscripted phase variable's columns by element (``{"DPRK": phases}``); empty for a scalar."""
    prefix = PHASE + "["
    return {c[len(prefix):-1]: frame[c].to_numpy() for c in frame.columns
            if isinstance(c, str) and c.startswith(prefix) and c.endswith("]")}


def summary_of(result) -> dict:
    """``summary.json`` content for a run."""
    indicators = tuple(dict.fromkeys(KEY_INDICATORS + tuple(result.scenario.outputs)))
    return summarise(result.trajectories, result.scenario.name, indicators)
