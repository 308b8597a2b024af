"""The ``--where`` grammar: which runs are cases of interest, as a condition on outcomes.

A condition compares outcomes of a sweep with numbers and combines the comparisons::

    condition  := conjunct ("or" conjunct)*
    conjunct   := negation ("and" negation)*
    negation   := "not" negation | "(" condition ")" | comparison | OUTCOME
    comparison := operand OP operand (OP operand)*     OP: < <= > >= == !=
    operand    := OUTCOME | NUMBER

``"transition year <= 2032"``, ``"strategic by 2030 and not Reciprocity@2030 < 0.5"``,
``"2027 <= transition year <= 2032"`` (a chain is the conjunction of its links). An outcome
is named as in the sweep's tables, case and spacing forgiven; quote it (``"..."`` or
``'...'``) when its name holds a keyword and the unquoted form is ambiguous. A bare
outcome is a condition only when it is boolean (a ``strategic by YEAR`` column).

Written by hand as a tiny recursive-descent parser rather than with a parsing library:
the grammar has five rules, and the one hard part, outcome names with spaces, digits and
``@`` (``years in phase 3``, ``Technical and Industrial Exchange@2030``), is matched
against the known names, longest first, which a generic tokenizer does not do. Nothing
is ever passed to ``eval``.
"""
from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from defdip.core.errors import InputError

OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
KEYWORDS = ("and", "or", "not")
_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
            "==": np.equal, "!=": np.not_equal}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_BOUNDARY = re.compile(r"$|[\s()<>=!]")


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is name, number, op, keyword, ( or ); ``at`` its position."""

    kind: str
    value: object
    at: int


@dataclass(frozen=True)
class Where:
    """A parsed, type-checked condition.

    Attributes
    ----------
    text : str
        As given.
    tree : tuple
        ``("or"|"and", parts)``, ``("not", part)``, ``("cmp", operands, ops)``,
        ``("name", outcome)`` or ``("num", value)``.
    names : tuple of str
        The outcomes it reads, in order of appearance.
    """

    text: str
    tree: tuple
    names: tuple[str, ...]

    def evaluate(self, table: pd.DataFrame, missing: Mapping[str, float] | None = None) -> np.ndarray:
        """The condition for every row of ``table``.

        Parameters
        ----------
        table : pandas.DataFrame
            One column per outcome it reads.
        missing : mapping, optional
            Outcome -> the value a missing (NaN) entry stands for, e.g. ``inf`` for a
            transition year that never came (later than any year). Without one, a
            comparison with NaN is false.

        Returns
        -------
        numpy.ndarray of bool, one per row
        """
        missing = dict(missing or {})
        columns = {}
        for name in self.names:
            values = table[name].to_numpy(float)
            if name in missing:
                values = np.where(np.isnan(values), missing[name], values)
            columns[name] = values
        return np.asarray(_evaluate(self.tree, columns, len(table)), bool)


MAX_NESTING = 100  # levels of parentheses and 'not': far beyond a readable condition, far below Python's stack


def parse_where(text: str, outcomes: Iterable[str], booleans: Iterable[str] = (),
                option: str = "--where") -> Where:
    """Parse and type-check a condition on outcomes.

    Parameters
    ----------
    text : str
        The condition.
    outcomes : iterable of str
        The outcomes it may name.
    booleans : iterable of str
        Those among them that hold 0/1 and may stand alone as a condition.
    option : str
        Named first in error messages.

    Raises
    ------
    InputError
        For an unknown outcome (with the allowed ones), bad syntax (with the position),
        or an expression that is not a condition (a bare number or non-boolean outcome).
    """
    outcomes = tuple(outcomes)
    parser = _Parser(text, outcomes, frozenset(booleans), option)
    tree = parser.parse()
    names = tuple(dict.fromkeys(_names(tree)))
    return Where(text, tree, names)


class _Parser:
    def __init__(self, text: str, outcomes: tuple[str, ...], booleans: frozenset, option: str):
        self.text, self.outcomes, self.booleans = text, outcomes, booleans
        self.where = f"{option} {text!r}"
        self.tokens = _tokenize(text, outcomes, self.where)
        self.i = 0
        self.depth = 0  # parentheses and 'not' open at this token

    # -- helpers ------------------------------------------------------------------------
    def _peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self) -> Token:
        token = self._peek()
        if token is None:
            raise InputError(f"{self.where}: the condition ends too early; expected an outcome, a number, "
                             "'not' or '('")
        self.i += 1
        return token

    def _is(self, kind: str, value=None) -> bool:
        token = self._peek()
        return token is not None and token.kind == kind and (value is None or token.value == value)

    def _fail(self, token: Token | None, expected: str):
        if token is None:
            raise InputError(f"{self.where}: the condition ends too early; expected {expected}")
        raise InputError(f"{self.where}: unexpected {token.value!r} at character {token.at + 1}; "
                         f"expected {expected}")

    # -- grammar ------------------------------------------------------------------------
    def parse(self) -> tuple:
        if not self.tokens:
            raise InputError(f"{self.where}: empty condition; e.g. --where \"transition year <= 2032\"")
        tree = self._condition()
        if self._peek() is not None:
            self._fail(self._peek(), "'and', 'or' or the end")
        self._require_boolean(tree)
        return tree

    def _condition(self) -> tuple:
        parts = [self._conjunct()]
        while self._is("keyword", "or"):
            self._take()
            parts.append(self._conjunct())
        return parts[0] if len(parts) == 1 else ("or", tuple(self._require_boolean(p) for p in parts))

    def _conjunct(self) -> tuple:
        parts = [self._negation()]
        while self._is("keyword", "and"):
            self._take()
            parts.append(self._negation())
        return parts[0] if len(parts) == 1 else ("and", tuple(self._require_boolean(p) for p in parts))

    def _negation(self) -> tuple:
        if not (self._is("keyword", "not") or self._is("(")):
            return self._comparison()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise InputError(f"{self.where[:80]}...: nested more than {MAX_NESTING} deep (parentheses and "
                             f"'not'); at most {MAX_NESTING} levels are allowed")
        try:
            return self._opened()
        finally:
            self.depth -= 1

    def _opened(self) -> tuple:
        if self._is("keyword", "not"):
            self._take()
            return ("not", self._require_boolean(self._negation()))
        self._take()
        inner = self._condition()
        if not self._is(")"):
            self._fail(self._peek(), "')'")
        self._take()
        return self._require_boolean(inner)

    def _comparison(self) -> tuple:
        operands = [self._operand()]
        ops = []
        while self._is("op"):
            ops.append(self._take().value)
            operands.append(self._operand())
        if not ops:
            return operands[0]
        for left, right in itertools.pairwise(operands):
            if left[0] == "num" and right[0] == "num":
                raise InputError(f"{self.where}: compares two numbers ({left[1]:g} and {right[1]:g}); "
                                 "compare an outcome with a number")
        return ("cmp", tuple(operands), tuple(ops))

    def _operand(self) -> tuple:
        token = self._take()
        if token.kind == "name":
            return ("name", token.value)
        if token.kind == "number":
            return ("num", token.value)
        self.i -= 1
        self._fail(token, "an outcome or a number")

    def _require_boolean(self, tree: tuple) -> tuple:
        if tree[0] == "num":
            raise InputError(f"{self.where}: the number {tree[1]:g} is not a condition; compare an outcome "
                             "with it, e.g. \"transition year <= 2032\"")
        if tree[0] == "name" and tree[1] not in self.booleans:
            raise InputError(f"{self.where}: {tree[1]!r} is not boolean (not a yes/no outcome); compare it "
                             f"with a number, e.g. \"{tree[1]} <= 2032\"")
        return tree


def _tokenize(text: str, outcomes: tuple[str, ...], where: str) -> list[Token]:
    """Split into tokens; outcome names are matched against the known ones, longest first."""
    known = sorted(outcomes, key=len, reverse=True)
    tokens, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        rest = text[i:]
        if rest[0] in "()":
            tokens.append(Token(rest[0], rest[0], i))
            i += 1
            continue
        op = next((o for o in OPERATORS if rest.startswith(o)), None)
        if op:
            tokens.append(Token("op", op, i))
            i += len(op)
            continue
        if rest[0] in "=!":
            raise InputError(f"{where}: {rest[0]!r} at character {i + 1} is not an operator; allowed: "
                             f"{', '.join(OPERATORS)}")
        if rest[0] in "\"'":
            end = rest.find(rest[0], 1)
            if end < 0:
                raise InputError(f"{where}: the quote at character {i + 1} is not closed")
            tokens.append(Token("name", _known(rest[1:end], outcomes, where), i))
            i += end + 1
            continue
        name = _match_name(rest, known)
        if name is not None:
            tokens.append(Token("name", name[0], i))
            i += name[1]
            continue
        number = _NUMBER.match(rest)
        if number and _BOUNDARY.match(rest, number.end()):
            tokens.append(Token("number", float(number[0]), i))
            i += number.end()
            continue
        word = re.match(r"[A-Za-z]+", rest)
        if word and word[0].lower() in KEYWORDS and _BOUNDARY.match(rest, word.end()):
            tokens.append(Token("keyword", word[0].lower(), i))
            i += word.end()
            continue
        raise InputError(_unknown(_phrase(rest), outcomes, where))
    return tokens


def _match_name(rest: str, known: list[str]) -> tuple[str, int] | None:
    """The longest known outcome at the start of ``rest`` (case and runs of spaces forgiven)."""
    for name in known:
        words = [re.escape(w) for w in name.split()]
        match = re.match(r"\s+".join(words), rest, flags=re.IGNORECASE)
        if match and _BOUNDARY.match(rest, match.end()):
            return name, match.end()
    return None


def _known(name: str, outcomes: tuple[str, ...], where: str) -> str:
    wanted = " ".join(name.split()).lower()
    for outcome in outcomes:
        if " ".join(outcome.split()).lower() == wanted:
            return outcome
    raise InputError(_unknown(name, outcomes, where))


def _phrase(rest: str) -> str:
    """The words an unknown name is made of: up to the next operator, bracket or keyword."""
    stop = re.search(r"[()<>=!]|\s(?:and|or|not)(?=\s|$|\()", rest, flags=re.IGNORECASE)
    return rest[:stop.start() if stop else len(rest)].strip()


def _unknown(name: str, outcomes: tuple[str, ...], where: str) -> str:
    lowered = {o.lower(): o for o in outcomes}
    close = [lowered[c] for c in difflib.get_close_matches(name.lower(), lowered, n=3, cutoff=0.5)]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    allowed = ", ".join(repr(o) for o in outcomes) or "none"
    return f"{where}: unknown outcome {name!r}{hint} (allowed: {allowed}; and numbers, <, <=, >, >=, ==, !=, " \
           "and, or, not, brackets)"


def _names(tree: tuple):
    kind = tree[0]
    if kind == "name":
        yield tree[1]
    elif kind in ("or", "and"):
        for part in tree[1]:
            yield from _names(part)
    elif kind == "not":
        yield from _names(tree[1])
    elif kind == "cmp":
        for operand in tree[1]:
            yield from _names(operand)


def _evaluate(tree: tuple, columns: Mapping[str, np.ndarray], rows: int):
    kind = tree[0]
    if kind == "name":  # a boolean outcome: 1 is true; 0 and NaN are false
        return np.nan_to_num(columns[tree[1]], nan=0.0) != 0
    if kind == "or":
        return np.logical_or.reduce([_evaluate(p, columns, rows) for p in tree[1]])
    if kind == "and":
        return np.logical_and.reduce([_evaluate(p, columns, rows) for p in tree[1]])
    if kind == "not":
        return ~_evaluate(tree[1], columns, rows)
    operands, ops = tree[1], tree[2]
    values = [columns[o[1]] if o[0] == "name" else np.full(rows, o[1]) for o in operands]
    with np.errstate(invalid="ignore"):
        links = [_COMPARE[op](a, b) for op, a, b in zip(ops, values, values[1:])]
    return np.logical_and.reduce(links)
