"""Compile PySD's abstract model of a Vensim file into one numba-compiled simulation.

The ensemble engine does not parse Vensim itself: PySD's translator turns the file
into an :class:`~pysd.translators.structures.abstract_model.AbstractModel` (every
equation as a syntax tree), and this module walks those trees and writes Python
source: one function, ``simulate``, holding the whole time loop of one ensemble member
per pass of its member loop, which numba compiles to native code (no Python per step).
Expressions keep PySD's own operator layout and function definitions
(``pysd.py_backend.functions``, ``statefuls``, ``lookups``), so the arithmetic is PySD's,
operation for operation. Anything this compiler does not know is refused by name.

The same expressions, with the same helpers (:mod:`defdip.engines.ensemble_runtime`),
are also emitted, in the same module, as the compiled kernel of the model's Loops That
Matter link scores (``link_scores``: every equation re-evaluated one step ahead and with one
input at a time moved, for arrays of runs x saved times), and one equation at a time as numpy
functions (:func:`equation_functions`): one generator, three consumers, no second copy of
the semantics.

Why hand-written: PySD's generated Python runs one scalar model per object, with
per-call caching and xarray dispatch; none of the libraries of the field evaluates
an SD model over an ensemble axis. The compiler is small because PySD does the parsing.
"""
from __future__ import annotations

import ast as pyast
import graphlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from defdip.core.arrays import flatten
from defdip.core.errors import InputError
from defdip.core.model import abstract_model as core_abstract_model
from defdip.engines.ensemble_runtime import NAMESPACE, SMALL_VENSIM, Unsupported

__all__ = ["SMALL_VENSIM", "Equation", "Program", "Unsupported", "abstract_model", "compile_model",
           "equation_functions"]
CONTROL = {"initial_time": "INITIAL TIME", "final_time": "FINAL TIME", "time_step": "TIME STEP",
           "saveper": "SAVEPER"}
CONTROL_ORDER = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")  # the controls array's order
OPERATORS = {"^": "**", "*": "*", "/": "/", "+": "+", "-": "-", "=": "==", "<>": "!=", ">=": ">=",
             ">": ">", "<=": "<=", "<": "<"}
LOGICAL = {":AND:": "np.logical_and", ":OR:": "np.logical_or"}
# Vensim function -> (arity, template). Templates follow PySD's builder and backend
# (pysd.builders.python.python_functions); every name works on numbers and on arrays.
FUNCTIONS = {
    "abs": (1, "np.abs({0})"), "min": (2, "np.minimum({0}, {1})"), "max": (2, "np.maximum({0}, {1})"),
    "exp": (1, "np.exp({0})"), "sqrt": (1, "np.sqrt({0})"), "ln": (1, "np.log({0})"),
    "log": (2, "(np.log({0})/np.log({1}))"), "power": (2, "np.power({0},{1})"),
    "sin": (1, "np.sin({0})"), "cos": (1, "np.cos({0})"), "tan": (1, "np.tan({0})"),
    "arcsin": (1, "np.arcsin({0})"), "arccos": (1, "np.arccos({0})"), "arctan": (1, "np.arctan({0})"),
    "sinh": (1, "np.sinh({0})"), "cosh": (1, "np.cosh({0})"), "tanh": (1, "np.tanh({0})"),
    "integer": (1, "np.trunc({0})"), "modulo": (2, "(({0}) - _quantum({0}, {1}))"),  # Vensim's: in (-m, 0] for x < 0
    "if_then_else": (3, "_where({0}, {1}, {2})"),
    "step": (2, "({0})*(t + _dt/2 > ({1}))"),
    # PySD's pulse(time, start, repeat_time=0, width=None, magnitude=None, end=None):
    # width None is half a step, magnitude None a height of 1, end None no end
    "pulse": (2, "_pulse_once(t, {0}, {1}, 1.0)"),
    "Xpulse": (2, "_pulse_once(t, {0}, .5*_dt, ({1})/_dt)"),
    "pulse_train": (4, "_pulse(t, {0}, {1}, {2}, 1.0, {3})"),
    "Xpulse_train": (3, "_pulse(t, {0}, {1}, .5*_dt, ({2})/_dt, np.inf)"),
    "ramp": (3, "_ramp(t, {0}, {1}, {2})"), "Xramp": (2, "_ramp(t, {0}, {1}, np.inf)"),
    "xidz": (3, "_xidz({0}, {1}, {2})"), "zidz": (2, "_xidz({0}, {1}, 0.0)"),
    "quantum": (2, "_quantum({0}, {1})"), "pi": (0, "np.pi"),
}
# RANDOM family: (arity, template); {site} numbers the call, _rk is the member's key this step
RANDOM = {
    "random_0_1": (0, "_random_uniform(0.0, 1.0, _rk, {site})"),
    "random_uniform": (3, "_random_uniform({0}, {1}, _rk, {site})"),
    "random_normal": (5, "_random_normal({0}, {1}, {2}, {3}, _rk, {site})"),
    "random_exponential": (5, "_random_exponential({0}, {1}, {2}, {3}, _rk, {site})"),
}
# stateful elements: abstract-syntax class -> kind
STATEFUL = {"IntegStructure": "stock", "SmoothStructure": "smooth", "SmoothNStructure": "smooth",
            "DelayStructure": "delay", "DelayNStructure": "delayn", "InitialStructure": "initial",
            "DelayFixedStructure": "delayfixed", "TrendStructure": "trend", "ForecastStructure": "forecast",
            "SampleIfTrueStructure": "sampleiftrue"}
STATE_KINDS = ("stock", "smooth", "delay", "delayn", "initial", "delayfixed", "trend", "forecast",
               "sampleiftrue", "npv")
# kinds whose value is computed each step from their state and their inputs
DYNAMIC_KINDS = ("auxiliary", "delay", "delayn", "trend", "forecast", "sampleiftrue", "npv")


@dataclass
class Node:
    """One model element as the engine sees it.

    ``kind`` is ``constant``, ``lookup``, ``auxiliary``, ``control`` or one of ``STATE_KINDS``.
    """

    name: str
    key: str
    kind: str
    ast: object = None
    local: str = ""
    deps: set = field(default_factory=set)        # what its value needs each step
    init_deps: set = field(default_factory=set)   # what its initial value needs
    flow_deps: set = field(default_factory=set)   # what its state's change needs
    order: int = 1
    value: float | None = None


@dataclass(frozen=True)
class Program:
    """Generated source and the facts the runtime needs about it.

    ``source`` is a Python module defining ``simulate(C, keys, ser_idx, ser_val, times, rows,
    controls, picks, out, status)``, compiled by numba (see :mod:`defdip.engines.ensemble`):
    ``C`` (members, constants), ``keys`` each member's random stream, ``ser_idx``/``ser_val``
    the constants given as time series and their value at each step, ``times`` the steps,
    ``rows`` the saved row of each step (-1: not saved), ``controls`` the four control
    values, ``picks`` the indices (into ``names``) to save, ``out`` (members, picks, rows),
    ``status`` per member (0, or the 1-based index into ``checks`` of a failed check).

    The module also defines ``link_scores(V, clock, ser_idx, ser_val, inside, want, dt, out)``
    (see :meth:`_Generator._scoring`), the Loops That Matter link score of each of ``links``
    at each saved time, from ``V`` (members, ``score_names``, saved times) as ``simulate``
    saves them; unless ``score_refusal`` says why it cannot.
    """

    source: str
    names: tuple[str, ...]                # every variable, in the order of the values array
    kinds: tuple[str, ...]
    constants: tuple[str, ...]            # inputs, in the order of the constants array
    defaults: tuple[float, ...]           # their values in the file
    controls: dict
    n_states: int
    structural: tuple[str, ...] = ()      # constants compiled into the code (delay and smooth orders)
    checks: tuple[str, ...] = ()          # delays whose order the run checks (status codes 1, 2, ...)
    random: bool = False                  # whether the model draws random numbers
    links: tuple[tuple[str, str], ...] = ()  # the scored causal links (source, target), link_scores' order
    score_names: tuple[str, ...] = ()     # the variables link_scores reads, in the order of its V
    score_refusal: str = ""               # why the model has no link_scores ("" when it has one)


@dataclass(frozen=True)
class Equation:
    """One equation of the model as a function of the variables it reads.

    ``fn(*arrays)`` takes one array per name in ``inputs`` (any broadcastable shapes,
    e.g. ``(T,)`` trajectories or ``(N, T)`` ensembles) and returns the equation's value
    element-wise: the variable's value for ``kind="auxiliary"``, its net flow
    (inflows minus outflows [units of the stock per time unit]) for ``kind="stock"``.
    Inputs are Vensim names (as in :attr:`Program.names`), ``Time`` where the equation
    reads time, and ``TIME STEP`` where a function (STEP, PULSE) needs the step.
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    fn: Callable[..., np.ndarray]


def abstract_model(path):
    """PySD's abstract model of a Vensim or XMILE file: the one reader, :func:`defdip.core.model.abstract_model`."""
    return core_abstract_model(Path(path))


def compile_model(path) -> Program:
    """Compile a Vensim file to an ensemble :class:`Program`.

    Raises
    ------
    Unsupported
        Naming the first construct the engine does not implement.
    """
    return _generator(path).program()


def equation_functions(path) -> dict[str, Equation]:
    """Every auxiliary's equation and every stock's net flow, as element-wise functions.

    Written by the same generator as the engine (same expressions, same helpers), so an
    equation evaluated on the engine's trajectories gives the engine's value. Stateful
    elements (SMOOTH, DELAY, INITIAL, TREND, ...) have no equation here: they are inputs
    to the equations that read them, with their values from the trajectories.

    Parameters
    ----------
    path : path-like
        A Vensim ``.mdl`` file.

    Returns
    -------
    dict
        Vensim name -> :class:`Equation`, for auxiliaries (``kind="auxiliary"``) and
        INTEG stocks (``kind="stock"``).

    Raises
    ------
    Unsupported
        Naming the first construct the engine does not implement, or an equation that
        draws random numbers (its value is not a function of the other variables).
    """
    return _generator(path).equations()


def _generator(path) -> _Generator:
    model = abstract_model(path)
    if len(model.sections) != 1:
        raise Unsupported(f"{path}: macros are not supported by the ensemble engine; --engine pysd runs them")
    return _Generator(_nodes(model.sections[0], path), path)


def _nodes(section, path) -> dict[str, Node]:
    """Every element as a scalar node: a subscripted variable gives one node per element
    (:func:`defdip.core.arrays.flatten`), named as PySD names its output column."""
    nodes: dict[str, Node] = {}
    for i, el in enumerate(flatten(section, path)):
        kind = _kind_of(el.name, el.ast, path)
        node = Node(el.name, el.key, kind, el.ast, local=f"v{i}")
        if kind == "constant":
            node.value = float(el.ast)
        nodes[el.key] = node
    return nodes


def _kind_of(name, ast, path) -> str:
    if name in CONTROL.values():
        return "control"
    if isinstance(ast, (int, float)):
        return "constant"
    kind = type(ast).__name__
    if kind == "IntegStructure" and getattr(ast, "non_negative", False):
        raise Unsupported(f"{path}: {name!r} is a non-negative INTEG; the ensemble engine does not "
                          "support it; --engine pysd runs it")
    if kind in STATEFUL:
        return STATEFUL[kind]
    if kind == "LookupsStructure":
        return "lookup"
    if kind == "CallStructure" and ast.function.reference == "npv":
        return "npv"
    if kind in ("ArithmeticStructure", "LogicStructure", "CallStructure", "ReferenceStructure",
                "InlineLookupsStructure"):
        return "auxiliary"
    raise Unsupported(f"{path}: {name!r} uses {kind.replace('Structure', '')}, which the ensemble engine "
                      "does not support; --engine pysd runs it")


class _Generator:
    """Writes a model's equations: the compiled ``simulate`` function, or one function per equation."""

    def __init__(self, nodes: dict[str, Node], path):
        self.nodes, self.path = nodes, path
        self.lookups: list[str] = []       # module-level table arrays
        self.tables: set[str] = set()
        self.inline: dict = {}
        self.structural: set[str] = set()  # constants compiled in (delay orders): not variable
        self.checks: list[str] = []        # delays whose order is checked per member
        self.sites = 0                     # RANDOM calls numbered
        for node in nodes.values():
            self._collect(node)

    # -- dependencies -------------------------------------------------------------------
    def _collect(self, node: Node) -> None:
        ast, kind, refs = node.ast, node.kind, self._refs
        if kind in ("constant", "control", "lookup"):
            return
        if kind == "stock":
            node.init_deps, node.flow_deps = refs(ast.initial), refs(ast.flow)
        elif kind == "initial":
            node.init_deps = refs(ast.initial)
        elif kind in ("smooth", "delay", "delayn"):
            time_ast = ast.smooth_time if kind == "smooth" else ast.delay_time
            node.order = self._order(node, ast.order)
            node.deps = refs(time_ast) if kind != "smooth" else set()
            node.init_deps = refs(ast.initial) | refs(time_ast)
            node.flow_deps = refs(ast.input) | refs(time_ast)
        elif kind == "delayfixed":
            node.init_deps = refs(ast.initial) | refs(ast.delay_time)
            node.flow_deps = refs(ast.input)
        elif kind in ("trend", "forecast"):
            node.deps = refs(ast.input) | refs(ast.average_time) | (
                refs(ast.horizon) if kind == "forecast" else set())
            node.init_deps = node.deps | refs(ast.initial_trend)
            node.flow_deps = refs(ast.input) | refs(ast.average_time)
        elif kind == "sampleiftrue":
            node.deps = refs(ast.condition) | refs(ast.input)
            node.init_deps = node.deps | refs(ast.initial)
        elif kind == "npv":
            stream, rate, init, factor = self._npv_args(node)
            node.deps = refs(stream) | refs(factor)
            node.init_deps = node.deps | refs(init)
            node.flow_deps = refs(stream) | refs(rate)
        else:
            node.deps = refs(ast)
            node.init_deps = set(node.deps)

    def _npv_args(self, node: Node):
        if len(node.ast.arguments) != 4:
            raise Unsupported(f"{self.path}: {node.name!r}: NPV with {len(node.ast.arguments)} arguments; "
                              "--engine pysd runs it")
        return node.ast.arguments

    def _order(self, node: Node, order) -> int:
        if type(order).__name__ == "ReferenceStructure":  # an order set by a constant
            source = self._node(order.reference)
            if source.kind != "constant":
                raise Unsupported(f"{self.path}: {node.name!r} takes its order from the equation of "
                                  f"{source.name!r}; the ensemble engine needs a number or a constant; "
                                  "--engine pysd runs it")
            self.structural.add(source.name)
            order = source.value
        if isinstance(order, (int, float)) and float(order) == int(order) and order >= 1:
            return int(order)
        raise Unsupported(f"{self.path}: {node.name!r} has a delay or smooth order that is not a whole "
                          "number; --engine pysd runs it")

    def _refs(self, ast) -> set:
        found: set = set()
        self._walk_refs(ast, found)
        return found

    def _walk_refs(self, ast, found: set) -> None:
        kind = type(ast).__name__
        if kind == "ReferenceStructure":
            if ast.reference != "time":
                found.add(self._node(ast.reference).key)
            return
        if kind == "CallStructure":
            ref = ast.function.reference
            if ref in self.nodes:
                found.add(ref)
            for arg in ast.arguments:
                self._walk_refs(arg, found)
            return
        for name in getattr(ast, "__dataclass_fields__", ()):
            value = getattr(ast, name)
            for item in value if isinstance(value, (list, tuple)) else (value,):
                self._walk_refs(item, found)

    def _node(self, key: str) -> Node:
        try:
            return self.nodes[key]
        except KeyError:
            raise Unsupported(f"{self.path}: reference to {key!r}, which the model does not define") from None

    # -- expressions --------------------------------------------------------------------
    def expr(self, ast) -> str:
        if isinstance(ast, bool):
            return "1.0" if ast else "0.0"
        if isinstance(ast, (int, float)):
            return repr(float(ast))
        kind = type(ast).__name__
        method = getattr(self, f"_e_{kind}", None)
        if method is None:
            raise Unsupported(f"{self.path}: {kind.replace('Structure', '')} inside an expression is not "
                              "supported by the ensemble engine; --engine pysd runs it")
        return method(ast)

    def _e_ReferenceStructure(self, ast) -> str:
        if ast.reference == "time":
            return "t"
        node = self._node(ast.reference)
        if node.kind == "lookup":
            raise Unsupported(f"{self.path}: lookup {node.name!r} used as a value; --engine pysd runs it")
        return node.local

    def _e_ArithmeticStructure(self, ast) -> str:
        # numbers bare, as PySD writes them: -2^2 is -(2**2) in PySD, so it must be here
        args = [self.expr(a) if _number(a) else f"({self.expr(a)})" for a in ast.arguments]
        if len(args) == 1:
            return f"-{args[0]}" if ast.operators[0] == "negative" else args[0]
        parts = [args[0]]
        for op, arg in zip(ast.operators, args[1:]):
            parts += [OPERATORS[op], arg]
        return " ".join(parts)

    def _e_LogicStructure(self, ast) -> str:
        args = [f"({self.expr(a)})" for a in ast.arguments]
        if ast.operators == [":NOT:"]:
            return f"np.logical_not({args[0]})"
        if all(op in OPERATORS for op in ast.operators):
            return self._e_ArithmeticStructure(ast)
        out = args.pop()
        operators = list(ast.operators)
        while operators:  # PySD builds from the right: a AND b OR c -> a AND (b OR c)
            out = f"{LOGICAL[operators.pop()]}({args.pop()}, {out})"
        return out

    def _e_CallStructure(self, ast) -> str:
        name = ast.function.reference
        args = [self.expr(a) for a in ast.arguments]
        if name in self.nodes and self.nodes[name].kind == "lookup":
            node = self.nodes[name]
            return self._table_call(f"_lookup_{node.local}", node.ast, args[0])
        if name == "pulse" and len(args) == 1:
            args.append(".5*_dt")  # PySD: width None is half a step
        if name == "ramp" and len(args) == 2:
            args.append("np.inf")
        if name in RANDOM:
            arity, template = RANDOM[name]
            self.sites += 1
            site = self.sites
        elif name in FUNCTIONS:
            (arity, template), site = FUNCTIONS[name], 0
        else:
            raise Unsupported(f"{self.path}: function {name.upper()} is not supported by the ensemble "
                              "engine; --engine pysd runs it")
        if len(args) != arity:
            raise Unsupported(f"{self.path}: {name.upper()} with {len(args)} arguments; --engine pysd runs it")
        return template.format(*args, site=site)

    def _e_InlineLookupsStructure(self, ast) -> str:
        table = ast.lookups  # one name per table, however often the expression is emitted
        key = (tuple(table.x), tuple(table.y), getattr(table, "type", None))
        name = self.inline.setdefault(key, f"_lookup_inline{len(self.inline)}")
        return self._table_call(name, table, self.expr(ast.argument))

    def _table_call(self, name: str, table, argument: str) -> str:
        """A call of the table helper on module-level arrays (numba freezes them as constants)."""
        mode = getattr(table, "type", "interpolate") or "interpolate"
        if mode not in ("interpolate", "extrapolate", "hold_backward"):
            raise Unsupported(f"{self.path}: lookup type {mode!r}; --engine pysd runs it")
        xs = tuple(float(x) for x in table.x)
        if mode == "extrapolate" and len(xs) < 2:
            mode = "interpolate"  # one point: flat either way
        if name not in self.tables:
            self.tables.add(name)
            self.lookups += [f"{name}_x = np.array({xs!r})",
                             f"{name}_y = np.array({tuple(float(y) for y in table.y)!r})"]
        return f"_lookup_{mode}({argument}, {name}_x, {name}_y)"

    # -- single equations -----------------------------------------------------------------
    def equations(self) -> dict[str, Equation]:
        """Auxiliaries and stock net flows as element-wise functions (see :func:`equation_functions`)."""
        lines, signatures = [], {}
        for node in self._scored():
            body, inputs = self._equation(node)
            params = [self.nodes[k].local for k in inputs]
            names = [self.nodes[k].name for k in inputs]
            used = _names_in(body)  # the templates of STEP, PULSE, RAMP read t and _dt themselves
            if "_rk" in used:
                raise Unsupported(self._random_refusal(node))
            if "t" in used:
                params.append("t")
                names.append("Time")
            prologue = []
            if "_dt" in used:
                step = next(n for n in self.nodes.values() if n.name == CONTROL["time_step"])
                if step.name not in names:
                    params.append(step.local)
                    names.append(step.name)
                prologue = [f"    _dt = {step.local}"]
            lines += [f"def _eq_{node.local}({', '.join(params)}):", *prologue, f"    return {body}", ""]
            signatures[node.name] = (node.kind, tuple(names), f"_eq_{node.local}")
        namespace = dict(NAMESPACE)
        source = "\n".join([*self.lookups, "", *lines])
        exec(compile(source, f"<equations {self.path}>", "exec"), namespace)  # noqa: S102 (our own generated code)
        return {name: Equation(name, kind, inputs, _elementwise(namespace[fn]))
                for name, (kind, inputs, fn) in signatures.items()}

    def _scored(self) -> list[Node]:
        """The elements with an equation of their own: auxiliaries and INTEG stocks (node order)."""
        return [n for n in self.nodes.values() if n.kind in ("auxiliary", "stock")]

    def _equation(self, node: Node) -> tuple[str, list[str]]:
        """An auxiliary's expression or a stock's net flow, and the keys of the elements it reads."""
        ast = node.ast.flow if node.kind == "stock" else node.ast
        inputs = sorted(k for k in (node.flow_deps if node.kind == "stock" else node.deps)
                        if self.nodes[k].kind != "lookup")  # a table is compiled into the function
        return self.expr(ast), inputs

    def _random_refusal(self, node: Node) -> str:
        return f"{self.path}: {node.name!r} draws random numbers: its value is not a function of the other variables"

    # -- link scores ------------------------------------------------------------------------
    # Hand-written compiled code: no library computes Loops That Matter link scores over an
    # ensemble (pysimlin scores one run of its own engine); written by this generator, the
    # partial evaluations are the engine's own expressions, in the same native code.
    def _scoring(self) -> tuple[list[str], tuple, tuple, str]:
        """``link_scores``, the kernel of every link's score at every saved time of every member.

        For each member and saved time it takes the saved values (``V``) into ``x``, steps
        once to ``t + dt`` into ``y`` as :func:`defdip.analysis.ltm.step_ahead` does (stocks
        ``s + net flow * dt``, then the auxiliaries in order; ``Time`` and time series at
        ``t + dt``; other inputs keep their value), then scores each link ``x -> z`` by the
        formula documented in :mod:`defdip.analysis.ltm` (``_link_score``): z's equation (a
        stock's net flow) with the source at ``t + dt`` and every other input at ``t``.
        Saved times whose interval leaves the run (``inside`` false) score NaN, as do links
        not in ``want``. The equations are the engine's expressions, each written once, in
        ``_equation(k, x, t, _dt)``; the links, stocks and evaluation order are tables.

        Returns
        -------
        lines : list of str
            The kernel's source with its tables (empty when refused).
        links : tuple of (str, str)
            (source, target) Vensim names, in the kernel's order (targets in model order,
            sources sorted).
        names : tuple of str
            The variables the kernel reads, in the order of ``V``'s second axis.
        refusal : str
            Why there is no kernel (an equation draws random numbers), or ``""``.
        """
        scored = self._scored()
        equations = {node.key: self._equation(node) for node in scored}
        for node in scored:
            if "_rk" in _names_in(equations[node.key][0]):
                return [], (), (), self._random_refusal(node)
        keys = {n.key for n in scored}.union(*(set(inputs) for _, inputs in equations.values()))
        reads = [n for n in self.nodes.values() if n.key in keys]
        slot = {n.key: j for j, n in enumerate(reads)}
        values = {n.local: f"x[{slot[n.key]}]" for n in reads}
        links = [(source, node.key) for node in scored for source in equations[node.key][1]
                 if self.nodes[source].kind in ("auxiliary", "stock")]
        number = {node.key: k for k, node in enumerate(scored)}
        order = [number[key] for key in self._topological([n for n in scored if n.kind == "auxiliary"], "deps",
                                                          "equations")]
        tables = {"_eq_slot": [slot[n.key] for n in scored], "_eq_stock": [n.kind == "stock" for n in scored],
                  "_stocks": [number[n.key] for n in scored if n.kind == "stock"], "_order": order,
                  "_link_source": [slot[source] for source, _ in links],
                  "_link_target": [number[target] for _, target in links]}
        bodies = [f"float({_renamed(equations[n.key][0], values)})" for n in scored]
        lines = [*(f"{name} = np.array({tuple(map(int, rows))!r}, dtype=np.int64)" for name, rows in tables.items()),
                 "", "",
                 # every equation written once, in one function of an array of values: called on
                 # the values at t, at t + dt, and at t with one source at t + dt (numba's compile
                 # time grows with the code, so neither one copy per use nor one function each)
                 "@njit(cache=True, nogil=True, error_model='numpy')",
                 "def _equation(k, x, t, _dt):",
                 '    """Equation k (a stock: its net flow) on the values x at time t."""',
                 *(f"    {line}" for line in _dispatch(bodies, 0, len(bodies))), "", "",
                 "@njit(cache=True, nogil=True, error_model='numpy')",
                 "def link_scores(V, clock, ser_idx, ser_val, inside, want, _dt, out):",
                 "    x = np.empty(V.shape[1])  # every value at t",
                 "    y = np.empty(V.shape[1])  # ... and at t + dt",
                 f"    flow = np.empty({len(scored)})  # stocks' net flows at t",
                 f"    flow_L = np.empty({len(scored)})  # ... and at t + dt",
                 "    for i in range(V.shape[0]):",
                 "        for r in range(V.shape[2]):",
                 "            if not inside[r]:  # the interval [t, t + dt] leaves the run",
                 "                out[i, r, :] = np.nan",
                 "                continue",
                 "            t = clock[r]",
                 "            t_L = t + _dt",
                 "            for j in range(V.shape[1]):",
                 "                x[j] = V[i, j, r]",
                 "                y[j] = x[j]",
                 "            for j in range(len(ser_idx)):  # time series: their value at t + dt",
                 "                y[ser_idx[j]] = ser_val[j, r]",
                 "            for k in _stocks:  # as the engine steps: s + d * dt",
                 "                flow[k] = _equation(k, x, t, _dt)",
                 "                y[_eq_slot[k]] = x[_eq_slot[k]] + flow[k] * _dt",
                 "            for k in _order:  # the auxiliaries, each after its inputs",
                 "                y[_eq_slot[k]] = _equation(k, y, t_L, _dt)",
                 "            for k in _stocks:",
                 "                flow_L[k] = _equation(k, y, t_L, _dt)",
                 "            for e in range(len(_link_source)):",
                 "                if not want[e]:",
                 "                    out[i, r, e] = np.nan",
                 "                    continue",
                 "                k, s = _link_target[e], _link_source[e]",
                 "                z0 = flow[k] if _eq_stock[k] else x[_eq_slot[k]]",
                 "                z1 = flow_L[k] if _eq_stock[k] else y[_eq_slot[k]]",
                 "                keep = x[s]",
                 "                x[s] = y[s]  # the source alone at t + dt",
                 "                partial = _equation(k, x, t, _dt)",
                 "                x[s] = keep",
                 "                out[i, r, e] = _link_score(partial - z0, z1 - z0, y[s] - keep)"]
        names = tuple(n.name for n in reads)
        return lines, tuple((self.nodes[u].name, self.nodes[v].name) for u, v in links), names, ""


    # -- the compiled program ----------------------------------------------------------------
    def program(self) -> Program:
        nodes = list(self.nodes.values())
        constants = [n for n in nodes if n.kind == "constant"]
        controls = {n.local: n.name for n in nodes if n.kind == "control"}
        states = [n for n in nodes if n.kind in STATE_KINDS]
        slots, n_states = self._slots(states)
        valued = [n for n in nodes if n.kind != "lookup"]
        member = self._member(nodes, states, slots, constants, controls, valued)
        header = ["# generated by defdip.engines.ensemble_build from " + _comment(self.path),
                  "import numpy as np",
                  "from numba import njit",
                  "from defdip.engines.ensemble_runtime import (",
                  *(f"    {name[1:]} as {name}," for name in NAMESPACE if name != "np"), ")",
                  "from defdip.engines.ensemble_runtime import SMALL_VENSIM as _SMALL", ""]
        scoring, links, score_names, refusal = self._scoring()
        kernel = ["", "", *scoring, ""] if scoring else []
        source = "\n".join([*header, *self.lookups, "", "",
                            "@njit(cache=True, nogil=True, error_model='numpy')", *member, "", *kernel])
        return Program(source=source, names=tuple(n.name for n in valued), kinds=tuple(n.kind for n in valued),
                       constants=tuple(n.name for n in constants),
                       defaults=tuple(n.value for n in constants), controls=controls, n_states=n_states,
                       structural=tuple(sorted(self.structural)), checks=tuple(self.checks),
                       random=self.sites > 0, links=links, score_names=score_names, score_refusal=refusal)

    @staticmethod
    def _slots(states) -> tuple[dict, int]:
        """Each state element's scalar state variables ``S0, S1, ...``."""
        slots, i = {}, 0
        widths = {"npv": 2}
        for node in states:
            width = node.order if node.kind in ("smooth", "delay", "delayn") else widths.get(node.kind, 1)
            width *= 2 if node.kind == "delayn" else 1  # DELAY N also carries its delay times
            slots[node.key] = [f"S{j}" for j in range(i, i + width)]
            i += width
        return slots, i

    def _member(self, nodes, states, slots, constants, controls, valued) -> list[str]:
        """``simulate``: for each member, the initial values then the whole Euler time loop.

        Each member runs its own time loop, so its values live in registers, never in
        arrays over the ensemble; members are independent (no value crosses between them).
        """
        load = [f"{n.local} = c[{j}]" for j, n in enumerate(constants)]
        consts = {n.local for n in constants}
        order_of = {name: j for j, name in enumerate(CONTROL_ORDER)}
        body = ["def simulate(C, keys, ser_idx, ser_val, times, rows, controls, picks, out, status):",
                "    n_members = C.shape[0]",
                "    last = len(times) - 1",
                "    _dt = controls[2]",
                *(f"    {local} = controls[{order_of[name]}]" for local, name in controls.items()),
                "    c = np.empty(C.shape[1])",
                f"    vals = np.empty({len(valued)})",
                "    for i in range(n_members):",
                "        for j in range(C.shape[1]):",
                "            c[j] = C[i, j]",
                "        for j in range(len(ser_idx)):",
                "            c[ser_idx[j]] = ser_val[j, 0]",
                *(f"        {_initial_names(line, set(controls))}" for line in load),
                "        t = times[0]",
                *(f"        {_initial_names(line, set(controls))}" for line in self._initial(nodes, states, slots))]
        step_lines = self._step(nodes, states, slots)
        random = ["_rk = _mix(keys[i], k)"] if self.sites else []  # known once every equation is written
        if random:
            body.insert(body.index("        t = times[0]") + 1, "        _rk = _mix(keys[i], 0)")
        step = ["for k in range(last + 1):",
                "    t = times[k]",
                "    for j in range(len(ser_idx)):  # time series: constants that change each step",
                "        c[ser_idx[j]] = ser_val[j, k]",
                *(f"    {line}" for line in load),
                *(f"    {line}" for line in random),
                *(f"    {line}" for line in step_lines),
                "    r = rows[k]",
                "    if r >= 0:",
                *(f"        vals[{j}] = {n.local}" for j, n in enumerate(valued)),
                "        for p in range(len(picks)):",
                "            out[i, p, r] = vals[picks[p]]",
                "    if k == last:",
                "        break",
                *(f"    {line}" for line in self._updates(states, slots))]
        lines = [_states_in_array(line) for line in body + [f"        {line}" for line in step]]
        return [lines[0], f"    _S = np.empty({max(n_slots(slots), 1)})  # the state variables", *lines[1:]]

    # initial values
    def _initial(self, nodes, states, slots) -> list[str]:
        lines = []
        for key in self._topological(nodes, "init_deps", "initial values"):
            node = self.nodes[key]
            if node.kind not in ("constant", "control", "lookup"):
                lines += self._init_lines(node, slots.get(node.key, []))
        return lines

    def _init_lines(self, node: Node, slot: list[str]) -> list[str]:
        ast, v, kind = node.ast, node.local, node.kind
        if kind in ("stock", "initial"):
            return [f"{v} = {self.expr(ast.initial)}", f"{slot[0]} = {v}"]
        if kind == "smooth":
            return [f"{v} = {self.expr(ast.initial)}", *(f"{s} = {v}" for s in slot)]
        if kind in ("delay", "delayn"):
            # the delay's stages hold init * delay time; its value is the last stage / delay time
            time = self.expr(ast.delay_time)
            self.checks.append(node.name)
            n = node.order
            stages = [f"{s} = {v}_stage" for s in slot[:n]]
            times = [f"{s} = {v}_time" for s in slot[n:]]
            return [f"{v}_stage = ({self.expr(ast.initial)}) * ({time})", f"{v}_time = {time}",
                    f"if {n} * _dt > {v}_time:  # PySD lowers the order per run; an ensemble cannot",
                    f"    status[i] = {len(self.checks)}",
                    f"{v} = {v}_stage / {v}_time", *stages, *times]
        if kind == "delayfixed":
            # PySD's DelayFixed: a pipe of round(max(delay / dt, 1)) values, all the initial value
            return [f"{v}_order = round(max(({self.expr(ast.delay_time)}) / _dt, 1) + _SMALL)",
                    f"{slot[0]} = {self.expr(ast.initial)}",
                    f"{v}_pipe = np.full({v}_order, {slot[0]})", f"{v}_ptr = 0", f"{v} = {slot[0]}"]
        if kind == "trend":
            return [(f"{slot[0]} = ({self.expr(ast.input)}) / (1 + ({self.expr(ast.initial_trend)})"
                     f" * ({self.expr(ast.average_time)}))"), *self._value(node, slot)]
        if kind == "forecast":
            return [f"{slot[0]} = ({self.expr(ast.input)}) / (1 + ({self.expr(ast.initial_trend)}))",
                    *self._value(node, slot)]
        if kind == "sampleiftrue":
            return [f"{slot[0]} = {self.expr(ast.initial)}", *self._value(node, slot)]
        if kind == "npv":
            init = self._npv_args(node)[2]
            return [f"{slot[0]} = {self.expr(init)}", f"{slot[1]} = 1.0", *self._value(node, slot)]
        return [f"{v} = {self.expr(ast)}"]

    # one step
    def _step(self, nodes, states, slots) -> list[str]:
        lines = []
        for node in states:
            lines += self._state_read(node, slots[node.key])
        dynamic = [n for n in nodes if n.kind in DYNAMIC_KINDS]
        for key in self._topological(dynamic, "deps", "equations"):
            node = self.nodes[key]
            lines += self._value(node, slots.get(key, []))
        for node in states:
            lines += self._derivative(node, slots[node.key])
        return lines

    @staticmethod
    def _state_read(node: Node, slot: list[str]) -> list[str]:
        if node.kind in ("stock", "initial", "delayfixed"):
            return [f"{node.local} = {slot[0]}"]
        if node.kind == "smooth":
            return [f"{node.local} = {slot[-1]}"]
        return []

    def _value(self, node: Node, slot: list[str]) -> list[str]:
        """The value of an element computed each step (auxiliaries and stateful outputs)."""
        v, ast, kind, e = node.local, node.ast, node.kind, self.expr
        if kind == "auxiliary":
            return [f"{v} = {e(ast)}"]
        if kind == "delay":
            return [f"{v}_time = {e(ast.delay_time)}", f"{v} = {slot[node.order - 1]} / {v}_time"]
        if kind == "delayn":  # DELAY N: the output divides by the delay time carried by the first stage
            return [f"{v} = {slot[node.order - 1]} / {slot[node.order]}"]
        s = slot[0]
        if kind == "trend":  # pysd.py_backend.statefuls.Trend.__call__
            return [f"{v} = _xidz(({e(ast.input)}) - {s}, ({e(ast.average_time)}) * np.abs({s}), 0.0)"]
        if kind == "forecast":  # Forecast.__call__
            return [(f"{v} = ({e(ast.input)}) * (1 + _xidz(({e(ast.input)}) - {s}, "
                     f"({e(ast.average_time)}) * {s}, 0.0) * ({e(ast.horizon)}))")]
        if kind == "sampleiftrue":  # SampleIfTrue.__call__
            return [f"{v} = _where({e(ast.condition)}, {e(ast.input)}, {s})"]
        if kind == "npv":  # Vensim: (NPV ACCUM + stream * TIME STEP * df) * factor
            stream, _, _, factor = self._npv_args(node)
            return [f"{v} = ({s} + ({e(stream)}) * _dt * {slot[1]}) * ({e(factor)})"]
        return []

    def _derivative(self, node: Node, slot: list[str]) -> list[str]:
        """Lines computing ``<slot>_new``: each state's next value's ingredient (derivative or value)."""
        v, ast, kind, e = node.local, node.ast, node.kind, self.expr
        if kind == "stock":
            return [f"{slot[0]}_d = {e(ast.flow)}"]
        if kind in ("initial", "sampleiftrue"):
            return []
        if kind == "delayfixed":
            return [f"{v}_in = {e(ast.input)}"]
        if kind in ("trend", "forecast"):
            return [f"{slot[0]}_d = (({e(ast.input)}) - {slot[0]}) / ({e(ast.average_time)})"]
        if kind == "npv":  # NPV ACCUM' = stream * df; df' = -df * rate / (1 + rate * TIME STEP)
            stream, rate, _, _ = self._npv_args(node)
            return [f"{slot[0]}_d = ({e(stream)}) * {slot[1]}",
                    f"{slot[1]}_d = -{slot[1]} * ({e(rate)}) / (1 + ({e(rate)}) * _dt)"]
        n = node.order
        if kind == "smooth":
            lines = [f"{v}_in = {e(ast.input)}", f"{v}_T = {e(ast.smooth_time)}"]
            for i in range(n):
                target = f"{v}_in" if i == 0 else slot[i - 1]
                lines.append(f"{slot[i]}_d = ({target} - {slot[i]}) * {float(n)!r} / {v}_T")
            return lines
        # DELAY1/DELAY3 divide every stage by the current delay time. DELAY N divides by
        # stage times that PySD rolls each step; the rolled times replace the stored ones.
        lines = [f"{v}_in = {e(ast.input)}"]
        if kind == "delay":
            times = [f"{v}_time"] * n
        else:
            lines.append(f"{v}_now = {e(ast.delay_time)}")
            times = [f"{v}_now"] + slot[n:2 * n - 1]
        for i in range(n):
            inflow = f"{v}_in" if i == 0 else f"({slot[i - 1]} / {times[i - 1]})"
            lines.append(f"{slot[i]}_d = ({inflow} - {slot[i]} / {times[i]}) * {n}")
        if kind == "delayn":
            lines += [f"{slot[n + i]}_d = {time}" for i, time in enumerate(times)]
        return lines

    @staticmethod
    def _updates(states, slots) -> list[str]:
        """The Euler step (``s + d * dt``), or the new value for states PySD sets."""
        lines = []
        for node in states:
            slot, v = slots[node.key], node.local
            if node.kind == "initial":
                continue
            if node.kind == "sampleiftrue":  # SampleIfTrue.update: state*0 + the value
                lines.append(f"{slot[0]} = {slot[0]} * 0 + {v}")
            elif node.kind == "delayfixed":  # DelayFixed.update
                lines += [f"{v}_pipe[{v}_ptr] = {v}_in", f"{v}_ptr = ({v}_ptr + 1) % {v}_order",
                          f"{slot[0]} = {v}_pipe[{v}_ptr]"]
            elif node.kind == "delayn":
                n = node.order
                lines += [f"{s} = {s} + {s}_d * _dt" for s in slot[:n]]
                lines += [f"{s} = {s}_d" for s in slot[n:]]
            else:
                lines += [f"{s} = {s} + {s}_d * _dt" for s in slot]
        return lines

    def _topological(self, nodes, attribute: str, what: str) -> list[str]:
        keys = {n.key for n in nodes}
        sorter = graphlib.TopologicalSorter()
        for node in nodes:
            sorter.add(node.key, *sorted(d for d in getattr(node, attribute) if d in keys))
        try:
            return list(sorter.static_order())
        except graphlib.CycleError as exc:
            cycle = " -> ".join(self.nodes[k].name for k in exc.args[1])
            raise InputError(f"{self.path}: the {what} form a cycle without a stock: {cycle}") from None


# numba's SSA reconstruction costs (variables assigned more than once) x (statements): with each
# value assigned once for the initial values and again in the time loop, and each state carried
# in a local, a model of 1,000 array elements took 114 s to compile. So the initial values are
# computed into locals of their own (``vN`` -> ``vN_0``), every value is assigned once in the loop
# (constants reloaded each step), and the state variables live in one array ``_S``.
_VALUE = re.compile(r"\bv(\d+)\b")
_STATE = re.compile(r"\bS(\d+)\b")


def n_slots(slots: dict) -> int:
    return sum(len(s) for s in slots.values())


def _initial_names(line: str, keep: set) -> str:
    """An initial-value line with each value ``vN`` as ``vN_0`` (but those in ``keep``)."""
    return _VALUE.sub(lambda m: m[0] if m[0] in keep else f"{m[0]}_0", line)


def _states_in_array(line: str) -> str:
    """A generated line with each state variable ``SN`` as ``_S[N]`` (``SN_d`` stays a local)."""
    return _STATE.sub(lambda m: f"_S[{m[1]}]", line)


def _comment(path) -> str:
    from pathlib import Path

    return Path(path).name.replace("\n", " ")


def _elementwise(raw: Callable) -> Callable[..., np.ndarray]:
    """``raw`` with its result as a float array of the inputs' broadcast shape."""
    def fn(*arrays):
        arrays = [np.asarray(a, float) for a in arrays]
        with np.errstate(all="ignore"):  # as in a run: a division by zero gives inf, not a warning
            out = raw(*arrays)
        return np.broadcast_to(np.asarray(out, float), np.broadcast_shapes(*(a.shape for a in arrays))).copy()
    fn.__name__ = raw.__name__
    return fn


def _dispatch(bodies: list[str], lo: int, hi: int) -> list[str]:
    """``return bodies[k]`` for ``k`` in ``[lo, hi)``, as a balanced tree of ifs (log2 tests per call)."""
    if hi - lo < 2:
        return [f"return {bodies[lo]}" if hi > lo else "return 0.0"]  # no equation at all: never called
    mid = (lo + hi) // 2
    return [f"if k < {mid}:", *(f"    {line}" for line in _dispatch(bodies, lo, mid)),
            *_dispatch(bodies, mid, hi)]


def _renamed(expression: str, names: dict) -> str:
    """A generated expression with the Python names in ``names`` replaced by the expressions given
    (``{"v3": "x[0]"}``); the same tree otherwise, so the same operations in the same order."""
    replacements = {name: pyast.parse(text, mode="eval").body for name, text in names.items()}

    class Rename(pyast.NodeTransformer):
        def visit_Name(self, node):
            if node.id not in replacements:
                return node
            return pyast.copy_location(replacements[node.id], node)

    return pyast.unparse(Rename().visit(pyast.parse(expression, mode="eval")))


def _names_in(expression: str) -> set[str]:
    """The Python names a generated expression reads."""
    return {n.id for n in pyast.walk(pyast.parse(expression, mode="eval")) if isinstance(n, pyast.Name)}


def _number(ast) -> bool:
    return isinstance(ast, (int, float)) and not isinstance(ast, bool)
