"""What a sweep varies and how: the uncertain constants and their sample tables.

The first step of SALib's three (sample, evaluate, analyse). A :class:`Problem` lists
the uncertain constants with their distributions; :func:`sample` draws a table of
parameter sets from it. Every design except ``oat`` is drawn on the unit hypercube by
SALib (or numpy for plain Monte Carlo) and mapped to values with each constant's
inverse distribution (:meth:`defdip.core.scenario.Uncertainty.ppf`), so uniform, triangular
and loguniform constants all go through the same designs. Same seed, same table, bit
for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from defdip.analysis.sensitivity import MORRIS_LEVELS
from defdip.core.errors import InputError
from defdip.core.model import model_info, unknown_name_message
from defdip.core.scenario import Scenario, Uncertainty
from defdip.core.scenario_file import bounded

METHODS = ("oat", "mc", "lhs", "sobol", "morris")
# Default --samples per method: runs for mc/lhs, base samples for sobol (runs = N (2D + 2)),
# trajectories for morris (runs = N (D + 1)), levels per constant for oat (runs = 1 + D N).
DEFAULT_SAMPLES = {"oat": 5, "mc": 1000, "lhs": 1000, "sobol": 256, "morris": 50}
SOURCES = ("--vary", "scenario uncertainties", "declared ranges", "all ranged constants")
# ``--vary all``: the scenario's uncertainties and, uniform over its declared range, every other
# constant with a finite one (a global screen, so that no influential constant is left out), except
# the dates of events on the record and the verdict's definitions: a screen of what is uncertain,
# not of counterfactual histories or of what "strategic" means. ``--vary everything`` adds them.
VARY_ALL = "all"
VARY_EVERYTHING = "everything"
LEVER_TAG = "scenario input"  # a model marks a future lever (not an event of the record) so


@dataclass(frozen=True)
class Problem:
    """The uncertain constants of a sweep.

    Attributes
    ----------
    uncertainties : tuple of Uncertainty
        One per constant, in sampling order (Vensim names).
    baseline : tuple of float
        Each constant's value in the scenario [the constant's units]; ``oat`` holds the
        others here while it moves one.
    source : str
        Where the constants came from, one of :data:`SOURCES`.
    """

    uncertainties: tuple[Uncertainty, ...]
    baseline: tuple[float, ...]
    source: str

    def __post_init__(self):
        if not self.uncertainties:
            raise InputError("sweep: no uncertain constants; give --vary NAME=LOW:HIGH")
        if len(self.baseline) != len(self.uncertainties):
            raise ValueError("one baseline value per uncertain constant is needed")
        if len(set(self.names)) != len(self.names):
            raise InputError(f"sweep: a constant is varied twice: {', '.join(self.names)}")

    @property
    def names(self) -> tuple[str, ...]:
        """The constants' Vensim names."""
        return tuple(u.name for u in self.uncertainties)

    def salib(self) -> dict:
        """The SALib problem on the unit hypercube (values come from :meth:`scale`)."""
        return {"num_vars": len(self.names), "names": list(self.names),
                "bounds": [[0.0, 1.0]] * len(self.names)}

    def scale(self, unit: np.ndarray) -> pd.DataFrame:
        """Map unit-hypercube samples to values, one column per constant.

        Parameters
        ----------
        unit : array (runs, constants)
            Probabilities in [0, 1].

        Returns
        -------
        pandas.DataFrame
            Index ``run`` (0, 1, ...), columns the constants' Vensim names.
        """
        unit = np.asarray(unit, dtype=float)
        columns = {u.name: u.ppf(np.clip(unit[:, i], 0.0, 1.0)) for i, u in enumerate(self.uncertainties)}
        return pd.DataFrame(columns, index=pd.RangeIndex(len(unit), name="run"))

    def record(self) -> list[dict]:
        """Plain data for ``summary.json``."""
        return [{"name": u.name, "dist": u.dist, "low": u.low, "high": u.high, "mode": u.mode,
                 "baseline": b} for u, b in zip(self.uncertainties, self.baseline)]


def parse_vary(items) -> dict[str, tuple[float, float]] | str:
    """``["escalation rate=1:8"]`` -> ``{"escalation rate": (1.0, 8.0)}`` (names not yet checked).

    ``["all"]`` -> :data:`VARY_ALL`: every constant with a declared range (see :func:`build_problem`).
    """
    for word in (VARY_ALL, VARY_EVERYTHING):
        if any(item.strip().lower() == word for item in items):
            if len(items) > 1:
                raise InputError(f"--vary {word}: give it alone; it varies every constant with a declared range")
            return word
    out = {}
    for item in items:
        name, sep, bounds = item.partition("=")
        low, colon, high = bounds.partition(":")
        if not sep or not colon or not name.strip():
            raise InputError(f"--vary {item!r}: expected NAME=LOW:HIGH, e.g. --vary \"escalation rate=1:8\"")
        try:
            out[name.strip()] = (float(low), float(high))
        except ValueError:
            raise InputError(f"--vary {item!r}: LOW and HIGH must be numbers, got {low!r} and {high!r}") from None
    return out


def build_problem(scenario: Scenario, vary: dict[str, tuple[float, float]] | str | None = None) -> Problem:
    """The uncertain constants: ``vary``, else the scenario's uncertainties, else all declared ranges.

    ``vary`` = :data:`VARY_ALL`: the scenario's uncertainties (with their distributions) followed
    by every other constant with a finite declared range, uniform over it, except the dates of
    events on the record and the verdict's definitions; :data:`VARY_EVERYTHING` keeps those too.

    Parameters
    ----------
    scenario : Scenario
        The scenario every run starts from.
    vary : dict or str, optional
        Constant name -> (low, high), as given with ``--vary`` (uniform between them), or
        :data:`VARY_ALL`.

    Raises
    ------
    InputError
        For a name that is not a constant of the model, low >= high, or bounds outside
        the constant's declared range.
    """
    info = model_info(scenario.model)
    if vary in (VARY_ALL, VARY_EVERYTHING):
        own = tuple(scenario.uncertainties.values())
        keep = (lambda u: True) if vary == VARY_EVERYTHING else (lambda u: not _record_or_definition(info.variables[u.name]))
        uncertainties = own + tuple(u for u in _declared(info) if u.name not in scenario.uncertainties and keep(u))
        source = SOURCES[3]
    elif vary:
        uncertainties = tuple(_vary_uncertainty(info, name, low, high) for name, (low, high) in vary.items())
        source = SOURCES[0]
    elif scenario.uncertainties:
        uncertainties, source = tuple(scenario.uncertainties.values()), SOURCES[1]
    else:
        uncertainties = _declared(info)
        source = SOURCES[2]
    baseline = tuple(_scenario_value(scenario, info, u.name) for u in uncertainties)
    return Problem(uncertainties, baseline, source)


def _record_or_definition(var) -> bool:
    """A date of an event on the record (a ``... year`` constant not marked as a scenario input)
    or one of the verdict's definitions (``defdip robustness`` varies those)."""
    from defdip.core.case import INDEX_AGGREGATION, PERSISTENCE, RECIPROCITY_FLOOR, STRATEGIC_THRESHOLD

    if var.name in (STRATEGIC_THRESHOLD, INDEX_AGGREGATION, PERSISTENCE, RECIPROCITY_FLOOR):
        return True
    return var.name.endswith("year") and LEVER_TAG not in (var.comment or "").lower()


def _declared(info) -> tuple[Uncertainty, ...]:
    """Uniform over its declared range, every constant that has a finite one."""
    return tuple(Uncertainty(v.name, "uniform", v.low, v.high) for v in info.constants.values()
                 if v.low is not None and v.high is not None and v.low < v.high)


def _vary_uncertainty(info, name: str, low: float, high: float) -> Uncertainty:
    where = f"--vary {name}={low:g}:{high:g}"
    try:
        var = info.resolve(name)
    except InputError:
        raise InputError(unknown_name_message(name, info.constants, where)) from None
    if var.kind != "constant":
        raise InputError(f"{where}: {var.name!r} is a {var.kind}; only constants can be varied")
    if not low < high:
        raise InputError(f"{where}: LOW ({low:g}) must be below HIGH ({high:g})")
    # the same range rule as a scenario file's values
    return Uncertainty(var.name, "uniform", bounded(var, low, where), bounded(var, high, where))


def _scenario_value(scenario: Scenario, info, name: str) -> float:
    """The constant's value in the scenario: its own setting, else the model file's."""
    if name in scenario.constants:
        return float(scenario.constants[name])
    value = info.resolve(name).value
    return float("nan") if value is None or name in scenario.series else value


def check_samples(method: str, n: int) -> None:
    """Refuse an unknown method or a sample size the method cannot use."""
    if method not in METHODS:
        raise InputError(f"--method: unknown method {method!r}; allowed: {', '.join(METHODS)}")
    least = 2 if method in ("oat", "sobol", "morris") else 1
    if n < least:
        raise InputError(f"--samples: {method} needs at least {least}, got {n}")


MAX_RUNS = 10_000_000  # a sweep's sample table and results are held and stored run by run
MAX_SEED = 2**32 - 1


def design_runs(method: str, n: int, constants: int) -> int:
    """Runs of a ``method`` design with ``--samples n`` over ``constants`` uncertain constants."""
    return {"oat": 1 + constants * n, "sobol": n * (2 * constants + 2),
            "morris": n * (constants + 1)}.get(method, n)


def check_design(method: str, n: int, constants: int) -> int:
    """The design's number of runs, refused above :data:`MAX_RUNS` before anything is drawn."""
    runs = design_runs(method, n, constants)
    if runs > MAX_RUNS:
        raise InputError(f"--samples {n}: the {method} design over {constants} constants would be {runs:,} "
                         f"runs; at most {MAX_RUNS:,} are allowed (give fewer --samples)")
    return runs


def check_seed(seed: int) -> int:
    """Refuse a seed outside ``0 .. MAX_SEED``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed: {seed} is not allowed; give a whole number from 0 to {MAX_SEED}")
    return seed


def unit_sample(problem: Problem, method: str, n: int, seed: int) -> np.ndarray:
    """A design on the unit hypercube (not for ``oat``, which is built in value space).

    Parameters
    ----------
    problem : Problem
    method : {"mc", "lhs", "sobol", "morris"}
    n : int
        Runs (mc, lhs), base samples (sobol), or trajectories (morris).
    seed : int

    Returns
    -------
    numpy.ndarray (runs, constants)
        Probabilities in [0, 1].
    """
    import warnings

    from SALib.sample import latin, morris, sobol

    check_samples(method, n)
    salib = problem.salib()
    with warnings.catch_warnings():
        # SALib warns when N is not a power of two; the design is still valid.
        warnings.simplefilter("ignore", UserWarning)
        if method == "mc":
            return np.random.Generator(np.random.PCG64(seed)).random((n, len(problem.names)))
        if method == "lhs":
            return latin.sample(salib, n, seed=seed)
        if method == "sobol":
            return sobol.sample(salib, n, calc_second_order=True, seed=seed)
        if method == "morris":
            return morris.sample(salib, n, num_levels=MORRIS_LEVELS, seed=seed)
    raise InputError(f"--method: {method!r} has no unit-hypercube design")


def oat_sample(problem: Problem, levels: int) -> pd.DataFrame:
    """Each constant alone at ``levels`` quantiles of its range (low to high), the rest at baseline.

    Run 0 is the scenario itself; runs ``1 + i * levels + k`` move constant ``i`` to level ``k``.
    """
    missing = [n for n, b in zip(problem.names, problem.baseline) if np.isnan(b)]
    if missing:
        raise InputError(f"--method oat: {missing[0]!r} has no single scenario value to hold it at "
                         "(it is a time series in the scenario); vary it with mc, lhs, sobol or morris")
    base = np.asarray(problem.baseline, dtype=float)
    quantiles = np.linspace(0.0, 1.0, levels)
    rows = [base]
    for i, u in enumerate(problem.uncertainties):
        for value in u.ppf(quantiles):
            row = base.copy()
            row[i] = value
            rows.append(row)
    return pd.DataFrame(np.vstack(rows), columns=list(problem.names),
                        index=pd.RangeIndex(len(rows), name="run"))


def sample(problem: Problem, method: str, n: int, seed: int = 0) -> pd.DataFrame:
    """The sample table of a sweep.

    Parameters
    ----------
    problem : Problem
    method : {"oat", "mc", "lhs", "sobol", "morris"}
    n : int
        See :data:`DEFAULT_SAMPLES` for what it counts per method.
    seed : int
        Seeds SALib or numpy; ``oat`` is deterministic and ignores it.

    Returns
    -------
    pandas.DataFrame
        Index ``run``, one column per uncertain constant [the constants' units].
    """
    check_samples(method, n)
    if method == "oat":
        return oat_sample(problem, n)
    return problem.scale(unit_sample(problem, method, n, seed))
