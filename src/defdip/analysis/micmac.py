"""MICMAC structural analysis of a 0-3 direct-influence ("impact") matrix.

Godet's method (LIPSOR), as the article applied it: in a matrix ``M`` where
``M[i, j]`` scores how strongly variable ``i`` influences variable ``j``
(0 none, 1 low, 2 moderate, 3 high),

- direct influence of a variable is its row sum, direct dependence its column sum;
- indirect influence and dependence are the same sums on ``M**k``, ``k`` raised
  until both rankings stop changing (:func:`stabilise`);
- the influence/dependence plane, split at the means, sorts the variables into
  classes (:func:`classify`).

Pure functions over numpy arrays; :func:`read_matrix` validates a CSV at the
boundary and :func:`micmac` assembles the table that ``defdip micmac`` writes.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.core.errors import InputError

SCORES = (0, 1, 2, 3)
MAX_POWER = 20
# A variable is "regulating" when it lies within this many standard deviations
# of the mean on both axes of the plane: near the crossing of the quadrant lines,
# where a small change of score would move it to another quadrant.
REGULATING_SD = 0.5
CLASSES = ("driving", "relay", "dependent", "autonomous", "regulating")
COLUMNS = ("variable", "direct_influence", "direct_dependence", "indirect_influence",
           "indirect_dependence", "direct_rank", "indirect_rank", "class")
# Rankings compare values rounded to this many significant digits, so that ties
# that are exact in integer arithmetic stay ties in floating point.
_RANK_DIGITS = 9


@dataclass(frozen=True)
class ImpactMatrix:
    """A validated square influence matrix.

    Attributes
    ----------
    names : tuple of str
        Variables, in row (= column) order.
    values : numpy.ndarray
        ``values[i, j]``: influence of ``names[i]`` on ``names[j]``; non-negative,
        zero diagonal. Expert matrices hold integers 0-3; matrices derived from a
        model may hold any non-negative weights.
    source : Path or None
        File it was read from.
    """

    names: tuple[str, ...]
    values: np.ndarray
    source: Path | None = None

    def __post_init__(self):
        values = np.asarray(self.values, dtype=float)
        if values.shape != (len(self.names), len(self.names)):
            raise ValueError(f"matrix shape {values.shape} does not match {len(self.names)} names")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

    def reordered(self, order) -> "ImpactMatrix":
        """The same matrix with rows and columns in ``order`` (a permutation of the names)."""
        index = [self.names.index(n) for n in order]
        return ImpactMatrix(tuple(order), self.values[np.ix_(index, index)], self.source)

    def to_frame(self) -> pd.DataFrame:
        """The matrix as a labelled table (rows influence columns)."""
        frame = pd.DataFrame(self.values, index=list(self.names), columns=list(self.names))
        frame.index.name = "variable"
        return frame


@dataclass(frozen=True)
class MicmacResult:
    """What :func:`micmac` finds.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per variable with the columns of :data:`COLUMNS`.
    k : int
        Power at which both indirect rankings stopped changing (or the cap).
    stable : bool
        False when the rankings still changed at ``max_power``.
    max_power : int
        The cap on ``k``.
    direct_class : dict
        Variable -> class on the direct plane (the table's ``class`` is the indirect one).
    """

    table: pd.DataFrame
    k: int
    stable: bool
    max_power: int
    direct_class: dict


# --------------------------------------------------------------------------
# Reading and validating


def read_matrix(path: Path) -> ImpactMatrix:
    """Read and validate an impact matrix CSV.

    The first column holds the row names, its header ``variable`` or empty (what
    ``pandas.DataFrame.to_csv``, Excel and LibreOffice write above an index); then
    one column per variable, in the same order as the rows. Every cell is an
    integer 0-3 and the diagonal is 0.

    Raises
    ------
    InputError
        Naming the file and the offending row, column or cell.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: impact matrix not found")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.reader(handle) if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise InputError(f"{path}: expected a header row and at least one variable row")
    header = [h.strip() for h in rows[0]]
    if header[0] not in ("variable", ""):
        raise InputError(f"{path}: the first column must be named 'variable' or have an empty header "
                         f"cell, got {header[0]!r}")
    columns = header[1:]
    names = [r[0].strip() for r in rows[1:]]
    _check_names(path, names, columns)
    values = np.zeros((len(names), len(names)), dtype=int)
    for i, row in enumerate(rows[1:]):
        cells = row[1:]
        if len(cells) != len(columns):
            raise InputError(f"{path}: row {names[i]!r} has {len(cells)} scores, expected {len(columns)} "
                             f"(one per column)")
        for j, cell in enumerate(cells):
            values[i, j] = _score(path, names[i], columns[j], cell, diagonal=i == j)
    return ImpactMatrix(tuple(names), values, path)


def _check_names(path: Path, names: list[str], columns: list[str]) -> None:
    for kind, seq in (("row", names), ("column", columns)):
        seen = {}
        for position, name in enumerate(seq, start=1):
            if not name:
                raise InputError(f"{path}: {kind} {position} has no variable name")
            if name in seen:
                raise InputError(f"{path}: duplicate {kind} {name!r} ({kind}s {seen[name]} and {position})")
            seen[name] = position
    if len(names) != len(columns):
        raise InputError(f"{path}: the matrix is not square: {len(names)} rows, {len(columns)} columns")
    for position, (row, column) in enumerate(zip(names, columns), start=1):
        if row != column:
            raise InputError(f"{path}: row {position} is {row!r} but column {position} is {column!r}; "
                             f"rows and columns must list the same variables in the same order")


def _score(path: Path, row: str, column: str, cell: str, diagonal: bool) -> int:
    where = f'{path}: row "{row}", column "{column}"'
    text = cell.strip()
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"{where}: {text!r} is not a score; allowed: integers 0-3") from None
    if not number.is_integer():
        raise InputError(f"{where}: {text} is not an integer; allowed: integers 0-3")
    score = int(number)
    if score not in SCORES:
        raise InputError(f"{where}: {score} is outside 0-3")
    if diagonal and score != 0:
        raise InputError(f"{where}: {score} on the diagonal; a variable's influence on itself must be 0")
    return score


# --------------------------------------------------------------------------
# The method


def influence(values: np.ndarray) -> np.ndarray:
    """Influence of each variable: the row sums."""
    return np.asarray(values, float).sum(axis=1)


def dependence(values: np.ndarray) -> np.ndarray:
    """Dependence of each variable: the column sums."""
    return np.asarray(values, float).sum(axis=0)


def ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 for the largest score; ties share the best rank ("min" method).

    Scores are compared at :data:`_RANK_DIGITS` significant digits relative to
    the largest, so floating-point noise does not break ties.
    """
    from scipy.stats import rankdata

    scores = np.asarray(scores, float)
    top = np.max(np.abs(scores)) if scores.size else 0.0
    rounded = np.round(scores / top, _RANK_DIGITS) if top > 0 else scores
    return rankdata(-rounded, method="min").astype(int)


def stabilise(values: np.ndarray, max_power: int = MAX_POWER) -> tuple[int, np.ndarray, bool]:
    """Raise the matrix to the power at which the influence and dependence rankings stop changing.

    Parameters
    ----------
    values : numpy.ndarray
        Square non-negative matrix.
    max_power : int
        Cap on the power.

    Returns
    -------
    k : int
        The first power whose influence and dependence rankings both equal those
        of power ``k - 1`` (at least 2); ``max_power`` when none does.
    power : numpy.ndarray
        ``M**k`` scaled by a positive constant (only its proportions matter, and
        scaling keeps the numbers finite).
    stable : bool
        False when the rankings still changed at ``max_power``.
    """
    m = np.asarray(values, float)
    if max_power < 2:
        raise ValueError("max_power must be at least 2")
    power = _scaled(m)
    previous = (tuple(ranks(influence(power))), tuple(ranks(dependence(power))))
    for k in range(2, max_power + 1):
        power = _scaled(power @ m)
        current = (tuple(ranks(influence(power))), tuple(ranks(dependence(power))))
        if current == previous:
            return k, power, True
        previous = current
    return max_power, power, False


def _scaled(a: np.ndarray) -> np.ndarray:
    top = a.max() if a.size else 0.0
    return a / top if top > 0 else a


def classify(infl: np.ndarray, dep: np.ndarray, regulating_sd: float = REGULATING_SD) -> list[str]:
    """Class of each variable on the influence/dependence plane.

    The plane is split at the mean influence and the mean dependence (a value
    equal to the mean counts as high): high influence and low dependence is
    *driving*, both high *relay*, low influence and high dependence *dependent*,
    both low *autonomous*. A variable within ``regulating_sd`` standard
    deviations of the mean on both axes is *regulating* instead, whatever its
    quadrant: it sits where the quadrant lines cross.
    """
    infl, dep = np.asarray(infl, float), np.asarray(dep, float)
    mi, md = infl.mean(), dep.mean()
    si, sd = infl.std(), dep.std()
    out = []
    for x, y in zip(infl, dep):
        if abs(x - mi) <= regulating_sd * si and abs(y - md) <= regulating_sd * sd:
            out.append("regulating")
        elif x >= mi:
            out.append("relay" if y >= md else "driving")
        else:
            out.append("dependent" if y >= md else "autonomous")
    return out


def micmac(matrix: ImpactMatrix, max_power: int = MAX_POWER) -> MicmacResult:
    """Direct and indirect influence and dependence, ranks and classes.

    Indirect values are the row and column sums of ``M**k`` rescaled so that
    they add up to the same total as the direct ones: the two planes then share
    a scale and can be drawn side by side. Ranks are influence ranks (1 = most
    influential); the ``class`` column is read on the indirect plane.

    Parameters
    ----------
    matrix : ImpactMatrix
        The validated matrix.
    max_power : int
        Cap on the power ``k``.

    Returns
    -------
    MicmacResult
    """
    m = matrix.values
    d_inf, d_dep = influence(m), dependence(m)
    k, power, stable = stabilise(m, max_power)
    total = m.sum()
    scale = total / power.sum() if power.sum() > 0 else 0.0
    i_inf, i_dep = influence(power) * scale, dependence(power) * scale
    table = pd.DataFrame({
        "variable": list(matrix.names),
        "direct_influence": d_inf,
        "direct_dependence": d_dep,
        "indirect_influence": i_inf,
        "indirect_dependence": i_dep,
        "direct_rank": ranks(d_inf),
        "indirect_rank": ranks(i_inf),
        "class": classify(i_inf, i_dep),
    }, columns=list(COLUMNS))
    direct_class = dict(zip(matrix.names, classify(d_inf, d_dep)))
    return MicmacResult(table, k, stable, max_power, direct_class)


def rank_shifts(table: pd.DataFrame) -> pd.DataFrame:
    """Variables whose influence rank changes from direct to indirect.

    Returns
    -------
    pandas.DataFrame
        ``variable, direct_rank, indirect_rank, shift`` (positive: climbs when
        indirect effects count), largest moves first; unchanged ranks left out.
    """
    shift = table["direct_rank"] - table["indirect_rank"]
    out = table[["variable", "direct_rank", "indirect_rank"]].assign(shift=shift)
    out = out[out["shift"] != 0]
    return out.reindex(out["shift"].abs().sort_values(ascending=False, kind="stable").index)


def strongest_links(matrix: ImpactMatrix, minimum: float | None = None) -> list[tuple[str, str, float]]:
    """``(from, to, score)`` for the strongest cells: those at ``minimum`` or above (default the maximum score)."""
    m = matrix.values
    threshold = m.max() if minimum is None else minimum
    rows, cols = np.nonzero((m >= threshold) & (m > 0))
    return [(matrix.names[i], matrix.names[j], float(m[i, j])) for i, j in zip(rows, cols)]


def summary(result: MicmacResult, matrix: ImpactMatrix) -> dict:
    """The ``summary.json`` of ``defdip micmac``."""
    table = result.table
    return {
        "matrix": str(matrix.source) if matrix.source else None,
        "variables": len(matrix.names),
        "k": result.k,
        "stable": result.stable,
        "max_power": result.max_power,
        "regulating_definition": f"within {REGULATING_SD} standard deviations of the mean on both axes",
        "classes": {c: table.loc[table["class"] == c, "variable"].tolist() for c in CLASSES},
        "direct_classes": {c: [v for v, cls in result.direct_class.items() if cls == c] for c in CLASSES},
        "rank_shifts": rank_shifts(table).to_dict(orient="records"),
    }
