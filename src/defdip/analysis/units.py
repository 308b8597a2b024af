"""Units check: dimensional consistency of every equation, with pint, over PySD's syntax trees.

PySD's Vensim translator parses each equation into an abstract syntax tree
(``pysd.translators.structures.abstract_expressions``); this module walks those trees and
infers the units of each expression from the declared units of the variables it uses,
then compares them with the declared units of the variable being defined.

Vensim's conventions: ``Dmnl`` (and an empty unit) is dimensionless, every other unit word
is a base unit of its own, ``Time`` has the model's time unit (the units of ``INITIAL
TIME``), a stock's flows have the stock's units per time unit, ``+``/``-``/``MIN``/``MAX``/
comparisons and both branches of ``IF THEN ELSE`` need compatible units, ``EXP``/``LN`` take
dimensionless arguments, ``STEP``/``PULSE`` take times, a lookup returns its declared units
and takes a dimensionless argument. A literal number is dimensionless, except ``0``, which
fits any units (``MAX(0, flow)`` is idiomatic Vensim), and a number compared with a quantity
(``Time > 2005``), which takes the quantity's units.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL, model_info

DIMENSIONLESS = ("dmnl", "dimensionless", "fraction", "1", "")
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$ ]*[A-Za-z0-9_$]|[A-Za-z_$]")
ANY = "any"  # a wildcard: literal 0, or a variable without declared units


@dataclass(frozen=True)
class Mismatch:
    """A dimensional inconsistency in one equation.

    Attributes
    ----------
    variable : str
        Vensim name of the variable whose equation is inconsistent.
    equation : str
        The equation as written.
    expected, found : str
        The two units that disagree (``expected`` is usually the declared unit).
    where : str
        The part of the equation at fault (e.g. ``"flow"``, ``"+"``, ``"MIN"``).
    """

    variable: str
    equation: str
    expected: str
    found: str
    where: str

    def message(self) -> str:
        return (f"{self.variable}: {self.where}: {self.expected} vs {self.found} "
                f"in `{self.variable} = {self.equation}`")


class _UnitError(Exception):
    def __init__(self, where, expected, found):
        super().__init__(where)
        self.where, self.expected, self.found = where, expected, found


class UnitSystem:
    """A pint registry with one base unit per unit word the model uses."""

    def __init__(self, time_unit: str):
        import pint

        self.registry = pint.UnitRegistry(filename=None)
        self.registry.define("dimensionless_dummy = [dimensionless_dummy]")  # registry needs one unit
        self.time_unit = time_unit
        self.time = self.parse(time_unit)

    def parse(self, text: str):
        """Units of a Vensim unit string, e.g. ``"Million/Year"`` -> pint Unit."""
        text = (text or "").strip()
        if text.lower() in DIMENSIONLESS:
            return self.registry.dimensionless
        expr = _WORD.sub(lambda m: self._word(m.group(0)), text)
        try:
            return self.registry.parse_units(expr)
        except Exception as exc:  # noqa: BLE001 - pint raises several types for bad syntax
            raise InputError(f"units {text!r}: cannot be read ({exc})") from None

    def _word(self, word: str) -> str:
        if word.lower() in DIMENSIONLESS:
            return "dimensionless"
        key = "u_" + re.sub(r"\W", "_", word.strip())
        if key not in self.registry:
            self.registry.define(f"{key} = [{key}]")
        return key

    def show(self, units) -> str:
        """Units in Vensim spelling (``Million/Year``, ``Dmnl``)."""
        if units is ANY:
            return "any"
        text = f"{units:~}" if not units.dimensionless else "Dmnl"
        return text.replace("u_", "").replace(" ", "").replace("**", "^") or "Dmnl"


def check_units(path: Path = DEFAULT_MODEL) -> list[Mismatch]:
    """Every dimensional mismatch in a Vensim model.

    Parameters
    ----------
    path : Path
        The ``.mdl`` file.

    Returns
    -------
    list of Mismatch
        Empty when every equation is consistent.
    """
    from pysd.translators.vensim.vensim_file import VensimFile

    info = model_info(Path(path))
    vensim = VensimFile(str(info.path))
    vensim.parse()
    declared = {v.py_name: v for v in info.variables.values()}
    system = UnitSystem(info.variables["INITIAL TIME"].units or "Year")
    units = {py: system.parse(v.units) if v.units else ANY for py, v in declared.items()}
    units["time"] = system.time
    checker = _Checker(system, units)
    out = []
    for section in vensim.get_abstract_model().sections:
        for element in section.elements:
            var = info.variables.get(element.name)
            if var is None or var.kind in ("control", "lookup", "data") or not var.units:
                continue
            for component in element.components:
                try:
                    checker.element(component.ast, units[var.py_name])
                except _UnitError as err:
                    out.append(Mismatch(var.name, var.equation, system.show(err.expected),
                                        system.show(err.found), err.where))
    return out


class _Checker:
    """Infers the units of an abstract syntax tree; raises :class:`_UnitError` on a clash."""

    def __init__(self, system: UnitSystem, units: dict):
        self.system, self.units = system, units
        self.one = system.registry.dimensionless

    def element(self, ast, declared) -> None:
        if declared is ANY or isinstance(ast, (int, float)):
            return  # a constant's number takes the units its definition declares
        kind = type(ast).__name__
        if kind == "IntegStructure":
            self.same(self.infer(ast.flow), declared / self.system.time, "flow (stock units per time)")
            if not isinstance(ast.initial, (int, float)):
                self.same(self.infer(ast.initial), declared, "initial value")
        elif kind in ("SmoothStructure", "SmoothNStructure", "DelayStructure", "DelayNStructure",
                      "DelayFixedStructure", "TrendStructure"):
            self.same(self.infer(ast.input), declared, "input")
            delay = getattr(ast, "delay_time", None) or getattr(ast, "smooth_time", None) or ast.average_time
            self.same(self.infer(delay), self.system.time, "delay time")
        else:
            self.same(self.infer(ast), declared, "equation")

    def same(self, found, expected, where):
        if found is ANY or expected is ANY:
            return expected if found is ANY else found
        if found.dimensionality != expected.dimensionality:
            raise _UnitError(where, expected, found)
        return found

    def infer(self, ast):
        if isinstance(ast, (int, float)):
            return ANY if ast == 0 else self.one
        kind = type(ast).__name__
        if kind == "ReferenceStructure":
            return self.units.get(ast.reference, ANY)
        if kind == "ArithmeticStructure":
            return self.arithmetic(ast.operators, [self.infer(a) for a in ast.arguments])
        if kind == "LogicStructure":  # a number compared with a quantity takes its units
            return self.logic(ast.operators, [ANY if isinstance(a, (int, float)) else self.infer(a)
                                              for a in ast.arguments])
        if kind == "CallStructure":
            return self.call(ast.function.reference, ast.arguments)
        return ANY  # structures this check does not model (GAME, ALLOCATE ...)

    def arithmetic(self, operators, args):
        if operators == ["negative"]:
            return args[0]
        result = args[0]
        for op, arg in zip(operators, args[1:]):
            if op in ("+", "-"):
                result = self.same(arg, result, op)
            elif op == "*":
                result = ANY if ANY in (result, arg) else result * arg
            elif op == "/":
                result = ANY if ANY in (result, arg) else result / arg
            elif op == "^":
                self.same(arg, self.one, "exponent")
                if result is not ANY and not result.dimensionless:
                    raise _UnitError("^ (base with units)", self.one, result)
        return result

    def logic(self, operators, args):
        if operators[0] in (":AND:", ":OR:", ":NOT:"):
            for a in args:
                self.same(a, self.one, operators[0])
        else:
            for a in args[1:]:
                self.same(a, args[0], operators[0])
        return self.one

    def call(self, name: str, arguments):
        args = [self.infer(a) for a in arguments]
        if name in ("min", "max", "abs", "integer", "modulo"):
            result = args[0]
            for a in args[1:]:
                result = self.same(a, result, name.upper())
            return result
        if name in ("exp", "ln", "log", "sin", "cos", "tan", "arctan"):
            self.same(args[0], self.one, name.upper())
            return self.one
        if name == "sqrt":
            return ANY if args[0] is ANY else args[0] ** 0.5
        if name == "if_then_else":
            return self.same(args[2], args[1], "IF THEN ELSE branches")
        if name in ("xidz", "zidz"):
            ratio = ANY if ANY in args[:2] else args[0] / args[1]
            return self.same(args[2], ratio, "XIDZ fallback") if name == "xidz" else ratio
        if name == "step":
            self.same(args[1], self.system.time, "STEP time")
            return args[0]
        if name == "pulse":
            for a in args:
                self.same(a, self.system.time, "PULSE start/width")
            return self.one
        if name == "ramp":
            for a in args[1:]:
                self.same(a, self.system.time, "RAMP start/end")
            return ANY if args[0] is ANY else args[0] * self.system.time
        if name in self.units:  # a lookup called with an argument
            self.same(args[0], self.one, f"lookup {name} argument")
            return self.units[name]
        return ANY
