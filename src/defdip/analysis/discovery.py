"""Scenario discovery: which combinations of assumptions lead to the cases of interest.

Given a table of sampled constants and a boolean per run (the cases of interest, from a
``--where`` condition on the outcomes), two methods describe the region of the inputs
where the cases lie as boxes (a low and a high limit per constant):

- PRIM (Friedman and Fisher 1999, Bryant and Lempert 2010) peels a box from the whole
  space a few percent at a time, then pastes back; every step of the peeling and
  pasting trajectory is a box, and they trade coverage (share of all cases inside the
  box) against density (share of the box's runs that are cases). The whole trajectory
  is kept, whether or not a box reaches the density asked for. Unless a step is asked
  for, :func:`discover` offers, as Bryant and Lempert (2010) advise, a box a reader can
  hold in mind: among the steps restricting at most :data:`MAX_DIMENSIONS` constants, the
  best balance of coverage and density (their harmonic mean, the F1 score); then, as the
  EMA Workbench's ``inspect``/``drop_restriction`` practice does, it drops one at a time
  the restrictions whose quasi-p-value (a one-sided binomial test: could the restriction
  be chance?) is above :data:`QP_SIGNIFICANT`, each drop a new step of the trajectory.
- CART (a classification tree) splits the space into leaf boxes; those whose majority
  is cases describe where the cases are.

Both are the EMA Workbench's (``ema_workbench.analysis.prim`` and ``.cart``, BSD-3), the
field's reference implementation, used as is. It is an optional extra
(``pip install 'defdip[discover]'``): it brings scikit-learn, statsmodels, seaborn and
platypus-opt, about 160 MB, and takes about 3 s to import, so it is imported only when a
discovery runs.
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from defdip.analysis.where import Where, parse_where
from defdip.core.errors import InputError

METHODS = ("prim", "cart")
INSTALL_HINT = "pip install 'defdip[discover]' (or: pip install 'ema_workbench==2.5.*')"
TRADEOFF_COLUMNS = ("step", "coverage", "density", "mass", "res_dim", "n", "k", "f1", "dropped")
QP_SIGNIFICANT = 0.05  # a restriction with a larger quasi-p-value may be chance (Bryant and Lempert 2010)
MAX_DIMENSIONS = 4  # Bryant and Lempert (2010): boxes of 2-4 restricted constants are the ones people read
LIMIT_COLUMNS = ("constant", "low", "high", "range_low", "range_high", "restricted", "low_restricted",
                 "high_restricted", "qp_low", "qp_high")


@dataclass(frozen=True)
class Discovery:
    """What one method found.

    Attributes
    ----------
    method : str
        ``prim`` or ``cart``.
    where : str
        The condition that defines the cases of interest.
    runs, cases : int
        Runs analysed, and how many of them are cases.
    tradeoff : pandas.DataFrame
        One row per box: PRIM's peeling and pasting trajectory in order, or CART's leaves.
        Columns :data:`TRADEOFF_COLUMNS`: coverage, density and mass [share], restricted
        dimensions, runs ``n`` and cases ``k`` inside, F1 (harmonic mean of coverage and
        density), and for PRIM the constant whose restriction a step dropped (empty for
        peeling and pasting steps).
    chosen : int or None
        The ``step`` of the box reported in ``limits`` (PRIM); ``None`` for CART.
    limits : pandas.DataFrame
        The reported boxes' limits: column ``step``, then :data:`LIMIT_COLUMNS`, one row per
        constant [the constant's units]; ``restricted`` when either side is, a side being
        restricted when its limit is inside the sampled values' span; quasi-p-values NaN
        where a side is not restricted (and for CART).
    settings : dict
        The method's parameters.
    """

    method: str
    where: str
    runs: int
    cases: int
    tradeoff: pd.DataFrame
    chosen: int | None
    limits: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def box(self, step: int | None = None) -> pd.DataFrame:
        """The limits of one reported box (default: the chosen one), indexed by constant."""
        step = self.chosen if step is None else step
        rows = self.limits[self.limits["step"] == step]
        return rows.drop(columns="step").set_index("constant")


def require_workbench():
    """The EMA Workbench's ``prim`` and ``cart`` modules, or an InputError that says how to install them."""
    try:
        with _quiet():
            from ema_workbench.analysis import cart, prim
    except ImportError as exc:
        raise InputError(f"scenario discovery needs the EMA Workbench, which is not installed ({exc.name} "
                         f"is missing); install the optional extra: {INSTALL_HINT}") from None
    return prim, cart


@contextlib.contextmanager
def _quiet():
    """Silence the workbench's import warnings (ipyparallel, altair) and its INFO logging."""
    logger = logging.getLogger("EMA")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def cases_of_interest(outcomes: pd.DataFrame, where, booleans=None, missing=None) -> tuple[np.ndarray, Where]:
    """The condition for every run, and the parsed condition.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        One column per outcome.
    where : str or Where
    booleans : iterable of str, optional
        Outcomes that may stand alone (default: bool columns and columns holding only 0 and 1).
    missing : mapping, optional
        Outcome -> the value NaN stands for (see :meth:`Where.evaluate`).
    """
    if isinstance(where, str):
        if booleans is None:
            booleans = [c for c in outcomes.columns if _is_boolean(outcomes[c])]
        where = parse_where(where, [str(c) for c in outcomes.columns], booleans)
    return where.evaluate(outcomes, missing), where


def _is_boolean(column: pd.Series) -> bool:
    if column.dtype == bool:
        return True
    values = column.dropna().unique()
    return len(values) > 0 and set(np.asarray(values, float)) <= {0.0, 1.0}


def discover(samples: pd.DataFrame, outcomes: pd.DataFrame, where, method: str = "prim", *, booleans=None,
             missing=None, ranges=None, threshold: float = 0.8, peel_alpha: float = 0.05,
             paste_alpha: float = 0.05, mass_min: float = 0.05, step: int | None = None,
             seed: int = 0) -> Discovery:
    """Find the boxes of inputs where ``where`` holds, as the EMA Workbench does.

    Parameters
    ----------
    samples : pandas.DataFrame
        One row per run, one numeric column per sampled constant.
    outcomes : pandas.DataFrame
        One row per run (same index as ``samples``), one column per outcome.
    where : str or Where
        The condition that makes a run a case of interest, e.g. ``"transition year <= 2032"``.
    method : {"prim", "cart"}
    booleans, missing
        See :func:`cases_of_interest`.
    ranges : mapping, optional
        Constant -> (low, high): the range it was sampled over [its units], shown beside a
        box's limits (default: the sample's minimum and maximum).
    threshold : float
        PRIM: the density a box should reach (EMA's ``threshold``); the offered box is
        one at least this dense if a step of few restrictions is (:func:`best_step`), and
        ``settings["found"]`` says whether any step is.
    peel_alpha, paste_alpha : float
        PRIM: the share of a box's runs peeled off or pasted back per step.
    mass_min : float
        The least share of all runs a box (PRIM) or leaf (CART) may hold.
    step : int, optional
        PRIM: report this step of the trajectory as it is, instead of :func:`best_step`'s
        with its insignificant restrictions dropped.
    seed : int
        CART: seeds the tree's tie-breaking between equally good splits.

    Returns
    -------
    Discovery

    Raises
    ------
    InputError
        For an unknown method, a bad condition, mismatched tables, no runs or no cases,
        a non-numeric constant, or a step off the trajectory.
    """
    if method not in METHODS:
        raise InputError(f"--method: unknown method {method!r}; allowed: {', '.join(METHODS)}")
    x = _inputs(samples, outcomes)
    y, parsed = cases_of_interest(outcomes.loc[x.index], where, booleans, missing)
    if not y.any() or y.all():
        share = "none" if not y.any() else "all"
        raise InputError(f"--where {parsed.text!r}: {share} of the {len(y)} runs meet it; scenario discovery "
                         "needs both cases and non-cases")
    ranges = {c: tuple(ranges[c]) if ranges and c in ranges else (float(x[c].min()), float(x[c].max()))
              for c in x.columns}
    prim, cart = require_workbench()
    if method == "prim":
        return _prim(prim, x, y, parsed.text, ranges, threshold, peel_alpha, paste_alpha, mass_min, step)
    return _cart(cart, x, y, parsed.text, ranges, mass_min, seed)


def _inputs(samples: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    if len(samples) == 0:
        raise InputError("discover: the sample table has no runs")
    if not samples.index.equals(outcomes.index):
        raise InputError("discover: samples and outcomes must have the same runs (index) in the same order")
    bad = [c for c in samples.columns if not pd.api.types.is_numeric_dtype(samples[c])]
    if bad:
        raise InputError(f"discover: constant {bad[0]!r} is not numeric; only numeric constants can bound a box")
    x = samples.astype(float)
    return x.loc[:, x.nunique() > 1]  # a constant held fixed cannot be restricted


def _prim(prim, x, y, where, ranges, threshold, peel_alpha, paste_alpha, mass_min, step) -> Discovery:
    settings = {"threshold": threshold, "peel_alpha": peel_alpha, "paste_alpha": paste_alpha,
                "mass_min": mass_min}
    # EMA replaces a box below its threshold by the whole space ("dump box") and drops the
    # trajectory. Its threshold only gates that last test (and counts y >= it as cases), so
    # it is given one below any box holding a case, and ``threshold`` is applied here instead.
    below_any = dict(settings, threshold=0.5 / len(y))
    with _quiet():
        box = prim.Prim(x.reset_index(drop=True), y.astype(int), **below_any).find_box()
    peeled = _trajectory(box)
    if step is not None and not 0 <= step < len(peeled):
        raise InputError(f"--box {step}: the trajectory has steps 0 to {len(peeled) - 1}")
    dropped = []
    if step is None:
        step, dropped = drop_insignificant(box, best_step(peeled, threshold))
    tradeoff = _trajectory(box)
    tradeoff["dropped"] = [""] * len(peeled) + dropped
    limits = _limits(box.box_lims[step], box.box_lims[0], box.qp[step], ranges)
    limits.insert(0, "step", step)
    settings.update(found=bool((peeled["density"] >= threshold).any()), max_dimensions=MAX_DIMENSIONS,
                    significance=QP_SIGNIFICANT)
    return Discovery("prim", where, len(y), int(y.sum()), tradeoff, step, limits, settings)


def _trajectory(box) -> pd.DataFrame:
    """The box's peeling and pasting trajectory (and any dropped restrictions) as a table."""
    trajectory = box.peeling_trajectory
    tradeoff = pd.DataFrame({"step": trajectory["id"].astype(int), "coverage": trajectory["coverage"],
                             "density": trajectory["density"], "mass": trajectory["mass"],
                             "res_dim": trajectory["res_dim"].astype(int), "n": trajectory["n"].astype(int),
                             "k": trajectory["k"].astype(int)})
    tradeoff["f1"] = _f1(tradeoff["coverage"], tradeoff["density"])
    return tradeoff.reset_index(drop=True)


def drop_insignificant(box, step: int, significance: float = QP_SIGNIFICANT) -> tuple[int, list[str]]:
    """Drop, least significant first, the restrictions of ``step`` that may be chance.

    EMA's practice (``inspect`` then ``drop_restriction``): each drop widens the box to the
    constant's whole range and adds the result as a new step, whose quasi-p-values are
    computed afresh; it stops when every restriction left is significant. One restriction
    is always kept: without it the box is the whole space, not a finding.

    Returns
    -------
    (int, list of str)
        The final step and the constants dropped, in order.
    """
    dropped = []
    while True:
        qp = _dimension_qp(box.qp[step])
        weak = {name: p for name, p in qp.items() if p > significance}
        if not weak or len(qp) <= 1:
            return step, dropped
        name = max(weak, key=weak.get)
        with _quiet():
            box.drop_restriction(name, i=step)
        step = len(box.box_lims) - 1
        dropped.append(name)


def _dimension_qp(qp: dict) -> dict[str, float]:
    """A restricted constant's quasi-p-value: its more significant restricted side's (EMA marks
    an unrestricted side -1)."""
    out = {}
    for name, sides in qp.items():
        valid = [float(p) for p in sides if p is not None and p >= 0]
        if valid:
            out[name] = min(valid)
    return out


def _cart(cart, x, y, where, ranges, mass_min, seed) -> Discovery:
    with _quiet():
        tree = cart.CART(x.reset_index(drop=True), y.astype(int), mass_min=mass_min)
        with _seeded(seed):  # scikit-learn breaks ties between splits with numpy's global generator
            tree.build_tree()
        boxes, stats = tree.boxes, tree.stats
    init = _initial_box(x)
    rows, frames = [], []
    for i, (lims, st) in enumerate(zip(boxes, stats)):
        inside = _in_box(x, lims)
        rows.append({"step": i, "coverage": float(st["coverage"]), "density": float(st["density"]),
                     "mass": float(st["mass"]), "res_dim": int(st["res dim"]), "n": int(inside.sum()),
                     "k": int(y[inside].sum())})
        frame = _limits(lims, init, {}, ranges)
        frame.insert(0, "step", i)
        frames.append(frame)
    tradeoff = pd.DataFrame(rows)
    tradeoff["f1"] = _f1(tradeoff["coverage"], tradeoff["density"])
    return Discovery("cart", where, len(y), int(y.sum()), tradeoff, None, pd.concat(frames, ignore_index=True),
                     {"mass_min": mass_min, "seed": seed})


@contextlib.contextmanager
def _seeded(seed: int):
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _initial_box(x: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([x.min().to_numpy(), x.max().to_numpy()], columns=x.columns)


def _in_box(x: pd.DataFrame, lims: pd.DataFrame) -> np.ndarray:
    low, high = lims.loc[0, x.columns].to_numpy(float), lims.loc[1, x.columns].to_numpy(float)
    values = x.to_numpy(float)
    return np.all((values >= low) & (values <= high), axis=1)


def _limits(lims: pd.DataFrame, init: pd.DataFrame, qp: dict, ranges) -> pd.DataFrame:
    """One row per constant: the box's limits, the constant's range, restriction and quasi-p-values."""
    rows = []
    for name in init.columns:
        low, high = float(lims.loc[0, name]), float(lims.loc[1, name])
        low_restricted, high_restricted = low > float(init.loc[0, name]), high < float(init.loc[1, name])
        qp_low, qp_high = (qp.get(name) or (np.nan, np.nan))
        rows.append({"constant": name, "low": low, "high": high, "range_low": ranges[name][0],
                     "range_high": ranges[name][1], "restricted": low_restricted or high_restricted,
                     "low_restricted": low_restricted, "high_restricted": high_restricted,
                     "qp_low": np.nan if qp_low is None or qp_low < 0 else float(qp_low),
                     "qp_high": np.nan if qp_high is None or qp_high < 0 else float(qp_high)})
    return pd.DataFrame(rows, columns=list(LIMIT_COLUMNS))


def best_step(tradeoff: pd.DataFrame, threshold: float, max_dimensions: int = MAX_DIMENSIONS) -> int:
    """The step to offer: few restrictions first, then density, then the best F1.

    Coverage and density are the recall and precision of the box as a rule for the cases,
    so F1, their harmonic mean, is high only when both are: peeling past the true region
    loses coverage, stopping short of it loses density. Candidates are the steps that
    restrict 1 to ``max_dimensions`` constants (a box of 14 is not read); among them those
    at least ``threshold`` dense, so that when cases are the majority of runs a box barely
    denser than the whole space is not offered, else all of them. Without any, the last
    (densest) step.
    """
    few = tradeoff[tradeoff["res_dim"].between(1, max_dimensions)]
    dense = few[few["density"] >= threshold]
    candidates = dense if not dense.empty else few
    if candidates.empty:
        return int(tradeoff["step"].iloc[-1])
    return int(candidates["step"].iloc[candidates["f1"].to_numpy().argmax()])


def case_leaves(tradeoff: pd.DataFrame) -> pd.DataFrame:
    """CART's leaves whose majority of runs are cases, the largest share of the cases first."""
    return tradeoff[tradeoff["density"] >= 0.5].sort_values("coverage", ascending=False)


def _f1(coverage: pd.Series, density: pd.Series) -> pd.Series:
    total = coverage + density
    return (2 * coverage * density / total.where(total > 0)).fillna(0.0)


def summary(result: Discovery) -> dict:
    """Plain data for ``summary.json``: the method, its settings and its reported boxes."""
    out = {"method": result.method, "where": result.where, "runs": result.runs, "cases": result.cases,
           "share_of_cases": result.cases / result.runs, "settings": result.settings}
    if result.method == "prim":
        row = result.tradeoff.set_index("step").loc[result.chosen]
        out["chosen_step"] = result.chosen
        out["chosen_box"] = _box_record(row, result.box())
        out["dropped_restrictions"] = [d for d in result.tradeoff["dropped"] if d]
        out["steps"] = len(result.tradeoff)
    else:
        leaves = case_leaves(result.tradeoff)
        out["leaves"] = len(result.tradeoff)
        out["case_leaves"] = [dict(_box_record(row, result.box(int(row["step"]))), step=int(row["step"]))
                              for _, row in leaves.iterrows()]
    return out


def _box_record(row: pd.Series, box: pd.DataFrame) -> dict:
    restricted = box[box["restricted"]]
    return {"coverage": float(row["coverage"]), "density": float(row["density"]), "mass": float(row["mass"]),
            "restricted_dimensions": int(row["res_dim"]),
            "limits": {name: {"low": float(r["low"]) if r["low_restricted"] else None,
                              "high": float(r["high"]) if r["high_restricted"] else None,
                              "range": [float(r["range_low"]), float(r["range_high"])],
                              "qp_low": None if np.isnan(r["qp_low"]) else float(r["qp_low"]),
                              "qp_high": None if np.isnan(r["qp_high"]) else float(r["qp_high"])}
                       for name, r in restricted.iterrows()}}
