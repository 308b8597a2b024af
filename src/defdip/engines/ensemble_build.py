"""Compile PySD's abstract model of a Vensim file into vectorised numpy code.

The ensemble engine does not parse Vensim itself: PySD's translator turns the file
into an :class:`~pysd.translators.structures.abstract_model.AbstractModel` (every
equation as a syntax tree), and this module walks those trees and writes plain
Python over numpy arrays, with one value per ensemble member. Expressions keep
PySD's own operator layout and function definitions (``pysd.py_backend.functions``,
``statefuls``, ``lookups``), so the arithmetic is the same as PySD's, operation for
operation. Anything this compiler does not know is refused by name.

Why hand-written: PySD's generated Python runs one scalar model per object, with
per-call caching and xarray dispatch; none of the libraries of the field evaluates
an SD model over an ensemble axis. The compiler is small because PySD does the parsing.
"""
from __future__ import annotations

import graphlib
from dataclasses import dataclass, field

from defdip.core.errors import InputError

SMALL_VENSIM = 1e-6  # pysd.py_backend.functions.SMALL_VENSIM
CONTROL = {"initial_time": "INITIAL TIME", "final_time": "FINAL TIME", "time_step": "TIME STEP",
           "saveper": "SAVEPER"}
STATEFUL = ("IntegStructure", "SmoothStructure", "SmoothNStructure", "DelayStructure", "DelayNStructure",
            "InitialStructure")
OPERATORS = {"^": "**", "*": "*", "/": "/", "+": "+", "-": "-", "=": "==", "<>": "!=", ">=": ">=",
             ">": ">", "<=": "<=", "<": "<"}
LOGICAL = {":AND:": "np.logical_and", ":OR:": "np.logical_or"}
# Vensim function -> (arity, template). Templates follow PySD's builder and backend.
FUNCTIONS = {
    "abs": (1, "np.abs({0})"), "min": (2, "np.minimum({0}, {1})"), "max": (2, "np.maximum({0}, {1})"),
    "exp": (1, "np.exp({0})"), "sqrt": (1, "np.sqrt({0})"), "ln": (1, "np.log({0})"),
    "log": (2, "(np.log({0})/np.log({1}))"), "power": (2, "np.power({0},{1})"),
    "sin": (1, "np.sin({0})"), "cos": (1, "np.cos({0})"), "tan": (1, "np.tan({0})"),
    "arcsin": (1, "np.arcsin({0})"), "arccos": (1, "np.arccos({0})"), "arctan": (1, "np.arctan({0})"),
    "sinh": (1, "np.sinh({0})"), "cosh": (1, "np.cosh({0})"), "tanh": (1, "np.tanh({0})"),
    "integer": (1, "np.trunc({0})"), "modulo": (2, "np.mod({0}, {1})"),
    "if_then_else": (3, "np.where({0}, {1}, {2})"),
    "step": (2, "({0})*(t + _dt/2 > ({1}))"),
    "pulse": (2, "_pulse(t, _dt, {0}, {1})"),
    "pulse_train": (4, "_pulse_train(t, {0}, {1}, {2}, {3})"),
    "ramp": (3, "_ramp(t, {0}, {1}, {2})"),
    "xidz": (3, "_xidz({0}, {1}, {2})"), "zidz": (2, "_xidz({0}, {1}, 0.0)"),
}


class Unsupported(InputError):
    """A model uses something the ensemble engine does not implement."""


@dataclass
class Node:
    """One model element as the engine sees it.

    ``kind`` is ``constant``, ``lookup``, ``auxiliary``, ``stock`` (INTEG), ``smooth``,
    ``delay``, ``delayn``, ``initial`` or ``control``.
    """

    name: str
    key: str
    kind: str
    ast: object = None
    local: str = ""
    deps: set = field(default_factory=set)        # what its value needs each step
    init_deps: set = field(default_factory=set)   # what its initial value needs
    order: int = 1
    value: float | None = None


@dataclass(frozen=True)
class Program:
    """Generated source and the facts the runtime needs about it."""

    source: str
    names: tuple[str, ...]                # every variable, in the order of the values tuple
    kinds: tuple[str, ...]
    constants: tuple[str, ...]            # inputs, in the order of the constants tuple
    defaults: tuple[float, ...]           # their values in the file
    controls: dict
    n_states: int
    structural: tuple[str, ...] = ()      # constants compiled into the code (delay and smooth orders)


def abstract_model(path):
    """PySD's abstract model of a Vensim file."""
    import warnings

    from pysd.translators.vensim.vensim_file import VensimFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vensim = VensimFile(str(path))
        vensim.parse()
        return vensim.get_abstract_model()


def compile_model(path) -> Program:
    """Compile a Vensim file to an ensemble :class:`Program`.

    Raises
    ------
    Unsupported
        Naming the first construct the engine does not implement.
    """
    model = abstract_model(path)
    if len(model.sections) != 1:
        raise Unsupported(f"{path}: macros are not supported by the ensemble engine; --engine pysd runs them")
    nodes = _nodes(model.sections[0], path)
    return _Generator(nodes, path).program()


def _nodes(section, path) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for i, el in enumerate(section.elements):
        if len(el.components) != 1 or el.components[0].subscripts[0]:
            raise Unsupported(f"{path}: {el.name!r} is subscripted; the ensemble engine supports scalar "
                              "models only; --engine pysd runs it")
        ast = el.components[0].ast
        key = el.name.lower().replace(" ", "_")
        kind = _kind_of(el.name, ast, path)
        node = Node(el.name, key, kind, ast, local=f"v{i}")
        if kind == "constant":
            node.value = float(ast)
        nodes[key] = node
    return nodes


def _kind_of(name, ast, path) -> str:
    if name in CONTROL.values():
        return "control"
    if isinstance(ast, (int, float)):
        return "constant"
    kind = type(ast).__name__
    simple = {"IntegStructure": "stock", "SmoothStructure": "smooth", "SmoothNStructure": "smooth",
              "DelayStructure": "delay", "DelayNStructure": "delayn", "InitialStructure": "initial",
              "LookupsStructure": "lookup"}
    if kind in simple:
        if kind == "IntegStructure" and getattr(ast, "non_negative", False):
            raise Unsupported(f"{path}: {name!r} is a non-negative INTEG; the ensemble engine does not "
                              "support it; --engine pysd runs it")
        return simple[kind]
    if kind in ("ArithmeticStructure", "LogicStructure", "CallStructure", "ReferenceStructure",
                "InlineLookupsStructure"):
        return "auxiliary"
    raise Unsupported(f"{path}: {name!r} uses {kind.replace('Structure', '')}, which the ensemble engine "
                      "does not support; --engine pysd runs it")


class _Generator:
    """Writes the ``initialise`` and ``evaluate`` functions of a program."""

    def __init__(self, nodes: dict[str, Node], path):
        self.nodes, self.path = nodes, path
        self.lookups: list[str] = []   # helper source lines for lookup tables
        self.structural: set[str] = set()  # constants compiled in (delay orders): not variable
        for node in nodes.values():
            self._collect(node)

    # -- dependencies -------------------------------------------------------------------
    def _collect(self, node: Node) -> None:
        ast, kind = node.ast, node.kind
        if kind in ("constant", "control", "lookup"):
            return
        if kind == "stock":
            node.init_deps = self._refs(ast.initial)
            node.flow_deps = self._refs(ast.flow)
        elif kind == "initial":
            node.init_deps = self._refs(ast.initial)
        elif kind in ("smooth", "delay", "delayn"):
            time_ast = ast.smooth_time if kind == "smooth" else ast.delay_time
            node.order = self._order(node, ast.order)
            node.deps = self._refs(time_ast)
            node.init_deps = self._refs(ast.initial) | self._refs(time_ast)
            node.flow_deps = self._refs(ast.input) | node.deps
        else:
            node.deps = self._refs(ast)
            node.init_deps = set(node.deps)

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
        if ast.subscripts:
            raise Unsupported(f"{self.path}: subscripted reference {ast.reference!r}; --engine pysd runs it")
        if ast.reference == "time":
            return "t"
        node = self._node(ast.reference)
        if node.kind == "lookup":
            raise Unsupported(f"{self.path}: lookup {node.name!r} used as a value; --engine pysd runs it")
        return node.local

    def _e_ArithmeticStructure(self, ast) -> str:
        args = [f"({self.expr(a)})" for a in ast.arguments]
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
            return f"_lookup_{self.nodes[name].local}({args[0]})"
        if name == "pulse" and len(args) == 1:
            args.append("None")
        if name == "ramp" and len(args) == 2:
            args.append("None")
        if name not in FUNCTIONS:
            raise Unsupported(f"{self.path}: function {name.upper()} is not supported by the ensemble "
                              "engine; --engine pysd runs it")
        arity, template = FUNCTIONS[name]
        if len(args) != arity:
            raise Unsupported(f"{self.path}: {name.upper()} with {len(args)} arguments; --engine pysd runs it")
        return template.format(*args)

    def _e_InlineLookupsStructure(self, ast) -> str:
        helper = self._lookup_helper(f"inline{len(self.lookups)}", ast.lookups)
        return f"{helper}({self.expr(ast.argument)})"

    def _lookup_helper(self, suffix: str, table) -> str:
        name = f"_lookup_{suffix}"
        mode = getattr(table, "type", "interpolate") or "interpolate"
        if mode not in ("interpolate", "extrapolate", "hold_backward"):
            raise Unsupported(f"{self.path}: lookup type {mode!r}; --engine pysd runs it")
        xs = tuple(float(x) for x in table.x)
        ys = tuple(float(y) for y in table.y)
        self.lookups.append(f"{name} = _make_lookup({xs!r}, {ys!r}, {mode!r})")
        return name

    # -- program ------------------------------------------------------------------------
    def program(self) -> Program:
        nodes = list(self.nodes.values())
        for node in nodes:
            if node.kind == "lookup":
                self._lookup_helper(node.local, node.ast)
        constants = [n for n in nodes if n.kind == "constant"]
        controls = {n.local: n.name for n in nodes if n.kind == "control"}
        states = [n for n in nodes if n.kind in ("stock", "smooth", "delay", "delayn", "initial")]
        slots, n_states = self._slots(states)
        initialise = self._initialise(nodes, states, slots, constants, controls)
        evaluate = self._evaluate(nodes, states, slots, constants, controls)
        source = "\n".join([*self.lookups, "", *initialise, "", *evaluate])  # lookups filled by both
        valued = [n for n in nodes if n.kind not in ("lookup",)]
        return Program(source=source, names=tuple(n.name for n in valued), kinds=tuple(n.kind for n in valued),
                       constants=tuple(n.name for n in constants),
                       defaults=tuple(n.value for n in constants), controls=controls, n_states=n_states,
                       structural=tuple(sorted(self.structural)))

    @staticmethod
    def _slots(states) -> tuple[dict, int]:
        slots, i = {}, 0
        for node in states:
            width = node.order if node.kind in ("smooth", "delay", "delayn") else 1
            width *= 2 if node.kind == "delayn" else 1  # DELAY N also carries its delay times
            slots[node.key] = list(range(i, i + width))
            i += width
        return slots, i

    def _header(self, constants, controls) -> list[str]:
        lines = []
        if constants:
            lines.append(f"    ({', '.join(n.local for n in constants)},) = C")
        for local, name in controls.items():
            lines.append(f"    {local} = _controls[{name!r}]")
        lines.append("    _dt = _controls['TIME STEP']")
        return lines

    def _initialise(self, nodes, states, slots, constants, controls) -> list[str]:
        lines = ["def initialise(t, C, _controls):", *self._header(constants, controls)]
        order = self._topological(nodes, "init_deps", "initial values")
        for key in order:
            node = self.nodes[key]
            if node.kind in ("constant", "control", "lookup"):
                continue
            lines += self._init_line(node)
        state_values = []
        for node in states:
            state_values += self._state_values(node, slots)
        lines.append(f"    return [{', '.join(state_values)}]")
        return lines

    def _init_line(self, node: Node) -> list[str]:
        ast, v = node.ast, node.local
        if node.kind == "stock":
            return [f"    {v} = {self.expr(ast.initial)}"]
        if node.kind == "initial":
            return [f"    {v} = {self.expr(ast.initial)}"]
        if node.kind == "smooth":
            return [f"    {v} = {self.expr(ast.initial)}"]
        if node.kind in ("delay", "delayn"):
            # the delay's stages hold init * delay time; its value is the last stage / delay time
            time = self.expr(ast.delay_time)
            return [f"    {v}_stage = ({self.expr(ast.initial)}) * ({time})",
                    f"    {v}_time = {time}",
                    f"    _check_delay_order({node.order}, _dt, {v}_time, {node.name!r})",
                    f"    {v} = {v}_stage / {v}_time"]
        return [f"    {v} = {self.expr(ast)}"]

    @staticmethod
    def _state_values(node: Node, slots) -> list[str]:
        v = node.local
        if node.kind in ("stock", "initial"):
            return [v]
        if node.kind == "smooth":
            return [v] * node.order
        if node.kind == "delay":
            return [f"{v}_stage"] * node.order
        return [f"{v}_stage"] * node.order + [f"{v}_time"] * node.order

    def _evaluate(self, nodes, states, slots, constants, controls) -> list[str]:
        lines = ["def evaluate(t, S, C, _controls):", *self._header(constants, controls)]
        for node in states:
            lines += self._state_read(node, slots[node.key])
        dynamic = [n for n in nodes if n.kind == "auxiliary" or n.kind in ("delay", "delayn")]
        for key in self._topological(dynamic, "deps", "equations"):
            node = self.nodes[key]
            if node.kind == "auxiliary":
                lines.append(f"    {node.local} = {self.expr(node.ast)}")
            elif node.kind in ("delay", "delayn") and node.key in {n.key for n in dynamic}:
                lines += self._delay_value(node, slots[node.key])
        derivatives = []
        for node in states:
            d_lines, d_names = self._derivative(node, slots[node.key])
            lines += d_lines
            derivatives += d_names
        values = ", ".join(n.local for n in nodes if n.kind != "lookup")
        lines.append(f"    return [{', '.join(derivatives)}], ({values},)")
        return lines

    @staticmethod
    def _state_read(node: Node, slot: list[int]) -> list[str]:
        v = node.local
        if node.kind in ("stock", "initial"):
            return [f"    {v} = S[{slot[0]}]"]
        if node.kind == "smooth":
            return [f"    {v} = S[{slot[-1]}]"]
        return []

    def _delay_value(self, node: Node, slot: list[int]) -> list[str]:
        v = node.local
        if node.kind == "delay":
            return [f"    {v}_time = {self.expr(node.ast.delay_time)}",
                    f"    {v} = S[{slot[node.order - 1]}] / {v}_time"]
        # DELAY N: the output divides by the delay time carried by the first stage
        return [f"    {v} = S[{slot[node.order - 1]}] / S[{slot[node.order]}]"]

    def _derivative(self, node: Node, slot: list[int]) -> tuple[list[str], list[str]]:
        v, ast = node.local, node.ast
        if node.kind == "stock":
            return [f"    {v}_ddt = {self.expr(ast.flow)}"], [f"{v}_ddt"]
        if node.kind == "initial":
            return [], ["0.0"]
        n = node.order
        if node.kind == "smooth":
            lines = [f"    {v}_in = {self.expr(ast.input)}", f"    {v}_T = {self.expr(ast.smooth_time)}"]
            names = []
            for i in range(n):
                target = f"{v}_in" if i == 0 else f"S[{slot[i - 1]}]"
                lines.append(f"    {v}_d{i} = ({target} - S[{slot[i]}]) * {float(n)!r} / {v}_T")
                names.append(f"{v}_d{i}")
            return lines, names
        # DELAY1/DELAY3 divide every stage by the current delay time. DELAY N divides by
        # stage times that PySD rolls each step; the rolled times replace the stored ones
        # (a _Set, not an Euler update).
        lines = [f"    {v}_in = {self.expr(ast.input)}"]
        if node.kind == "delay":
            times = [f"{v}_time"] * n
        else:
            lines.append(f"    {v}_now = {self.expr(ast.delay_time)}")
            times = [f"{v}_now"] + [f"S[{slot[n + i - 1]}]" for i in range(1, n)]
        names = []
        for i in range(n):
            inflow = f"{v}_in" if i == 0 else f"(S[{slot[i - 1]}] / {times[i - 1]})"
            lines.append(f"    {v}_d{i} = ({inflow} - S[{slot[i]}] / {times[i]}) * {n}")
            names.append(f"{v}_d{i}")
        if node.kind == "delayn":
            names += [f"_Set({time})" for time in times]
        return lines, names

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
