"""The ceiling check: how high can commitment go at all?

A verdict of "tactical" means something only if the model *could* say "strategic": if no history
and no lever within the declared ranges lifts commitment to the threshold, the verdict restates the
defaults. For each element of the commitment variable (each partner) this finds, by coordinate
ascent, the highest *sustained* commitment (the largest value held for the transition persistence)
that two sets of settings reach:

``levers``
    the scenario inputs alone (the model's constants whose comment calls them a "Scenario input":
    future events such as a war's end, a partner's supply stopping, Russia's ties losing their
    hold), each within its declared range, every behavioural constant at its value;
``levers and uncertainties``
    the same together with the scenario's ``uncertainties``, each within its stated range.

It reports the maximum, the threshold and the settings that reach it (the conditions), and
passes when the second maximum reaches the threshold: the model can tell a strategic partnership
when the conditions for one are given. A hand-written search, because what is maximised is a
path statistic of a simulation over a few dozen bounded inputs, cheap to batch on the compiled
engine; scipy's optimisers expect a smooth objective or many more evaluations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from defdip.core.case import COMMITMENT, DEFAULT_PERSISTENCE, PERSISTENCE, STRATEGIC_THRESHOLD
from defdip.core.model import model_info

LEVER_TAG = "scenario input"  # how the model marks a future lever in a constant's comment
GRID = 5  # values tried per coordinate and pass, ends included
PASSES = 3
PRUNE = 0.005  # a moved setting is a condition only if putting it back costs this much
STARTS = 1000  # random points drawn first: levers act in pairs (a year and a size), which
# coordinate ascent alone cannot find from a default where the year is "never"
SEED = 0


@dataclass(frozen=True)
class Ceiling:
    """The highest sustained commitment of one element under one set of settings."""

    element: str
    settings: str
    maximum: float
    threshold: float
    conditions: dict

    @property
    def reaches(self) -> bool:
        return self.maximum >= self.threshold


def lever_ranges(info, scenario) -> dict[str, tuple[float, float]]:
    """Scenario inputs by element column -> declared (low, high)."""
    out = {}
    for var in info.constants.values():
        if LEVER_TAG not in (var.comment or "").lower() or var.low is None or var.high is None:
            continue
        if var.name in scenario.series:
            continue
        for column in var.columns:
            out[column] = (float(var.low), float(var.high))
    return out


def uncertainty_ranges(scenario) -> dict[str, tuple[float, float]]:
    return {u.name: (float(u.low), float(u.high)) for u in scenario.uncertainties.values()}


def sustained_maximum(time: np.ndarray, values: np.ndarray, hold: float) -> np.ndarray:
    """Per run, the largest level the series stays at or above for ``hold`` years [same units]."""
    # the points of a window spanning ``hold`` years (a hold of 0: one point)
    steps = int(round(max(0.0, hold) / float(time[1] - time[0]))) + 1 if len(time) > 1 else 1
    steps = min(steps, values.shape[1])
    windows = np.lib.stride_tricks.sliding_window_view(values, steps, axis=1)
    return windows.min(axis=2).max(axis=1)


def _objective(scenario, samples: pd.DataFrame, columns, hold: float) -> dict[str, np.ndarray]:
    from defdip.engines.simulate import simulate_batch

    ds = simulate_batch(scenario, samples, outputs=list(columns), engine="ensemble")
    time = np.asarray(ds["time"], float)
    return {c: sustained_maximum(time, np.asarray(ds[c].values, float), hold) for c in columns}


def climb(scenario, ranges: dict[str, tuple[float, float]], column: str, columns, hold: float):
    """Random search, then coordinate ascent, on ``column``'s sustained maximum.

    ``STARTS`` uniform points over the ranges and the scenario's own point run as one batch; from
    the best, each pass tries every coordinate at ``GRID`` values (one batch per pass) and keeps,
    coordinate by coordinate, the best value.
    """
    info = model_info(scenario.model)
    own = {n: float(scenario.constants.get(n, info.resolve(n).value)) for n in ranges}
    rng = np.random.default_rng(SEED)
    starts = pd.DataFrame([own] + [{n: rng.uniform(lo, hi) for n, (lo, hi) in ranges.items()}
                                   for _ in range(STARTS if ranges else 0)])
    scores = _objective(scenario, starts, columns, hold)[column]
    point = {n: float(v) for n, v in starts.iloc[int(np.argmax(scores))].items()}
    best = float(scores.max())
    for _ in range(PASSES):
        rows, moves = [], []
        for name, (low, high) in ranges.items():
            for value in np.linspace(low, high, GRID):
                rows.append({**point, name: value})
                moves.append((name, value))
        if not rows:
            break
        scores = _objective(scenario, pd.DataFrame(rows), columns, hold)[column]
        improved = False
        for name in ranges:  # the best value of each coordinate, then all of them at once
            mine = [i for i, (n, _) in enumerate(moves) if n == name]
            i = max(mine, key=lambda k: scores[k])
            if scores[i] > best + 1e-9:
                point[name], improved = moves[i][1], True
        if not improved:
            break
        joint = _objective(scenario, pd.DataFrame([point]), columns, hold)[column][0]
        if joint <= best + 1e-9:
            break
        best = joint
    return best, point


def conditions(scenario, point: dict, own: dict, column: str, columns, hold: float, best: float) -> dict:
    """The settings of ``point`` that matter: each moved one is put back in turn (one batch),
    and kept only when that lowers the maximum by more than ``PRUNE``."""
    moved = [n for n in point if abs(point[n] - own[n]) > 1e-12]
    if not moved:
        return {}
    scores = _objective(scenario, pd.DataFrame([{**point, n: own[n]} for n in moved]), columns, hold)[column]
    return {n: round(float(point[n]), 4) for n, score in zip(moved, scores) if best - score > PRUNE}


def ceilings(scenario) -> list[Ceiling]:
    """The ceiling of every element of the commitment variable, under both sets of settings."""
    info = model_info(scenario.model)
    if COMMITMENT not in info.variables:
        return []
    columns = info.variables[COMMITMENT].columns
    threshold = float(scenario.constants.get(STRATEGIC_THRESHOLD, info.variables[STRATEGIC_THRESHOLD].value))
    hold = float(scenario.constants.get(PERSISTENCE, info.variables[PERSISTENCE].value
                                        if PERSISTENCE in info.variables else DEFAULT_PERSISTENCE))
    levers = lever_ranges(info, scenario)
    sets = {"levers": levers, "levers and uncertainties": {**levers, **uncertainty_ranges(scenario)}}
    out = []
    for column in columns:
        element = column[len(COMMITMENT) + 1:-1] if column != COMMITMENT else COMMITMENT
        for label, ranges in sets.items():
            maximum, point = climb(scenario, ranges, column, columns, hold)
            own = {n: float(scenario.constants.get(n, info.resolve(n).value)) for n in ranges}
            needed = conditions(scenario, point, own, column, columns, hold, maximum)
            out.append(Ceiling(element, label, float(maximum), threshold, needed))
    return out
