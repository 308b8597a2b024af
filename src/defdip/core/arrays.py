"""Subscripts (Vensim) and dimensions (XMILE): a subscripted model as one scalar equation per element.

PySD's abstract model keeps an array's equations as written: a left-hand side over subscript
ranges (``Stock A[Dim1, Dim2]``, a subrange, single elements, ``:EXCEPT:`` lists) and
references that name ranges (``x[Dim1]``, ``x[Dim1!]`` inside ``SUM``, a mapped or copied range,
a single element). :func:`flatten` writes every element of every variable as its own scalar
equation, named as PySD names its output columns (``Stock A[Entry 1,Column 1]``), with each
reference resolved to the one element it reads and each aggregation (``SUM``, ``PROD``, ``VMIN``,
``VMAX``) written out over the elements it runs over. Everything downstream (the compiled
engine, the equations of loop analysis) then sees a scalar model whose variables are the
elements, so a loop through ``x[Iran]`` and one through ``SUM(x[partner!])`` are different loops.

Why hand-written: PySD evaluates arrays with xarray at run time and has no scalar form of a
model; the flattening is a pure rewrite of PySD's own syntax trees (its dataclasses), so the
arithmetic stays PySD's.

Resolution follows Vensim's rules, in this order, for a reference subscript ``S`` in an
equation whose left-hand side binds ranges to elements:

1. ``S`` is bound (the same range, or ``S!`` inside an aggregation): that element;
2. ``S`` is mapped to or from a bound range (``DimB: b1, b2 -> DimA``): the element at the
   same position;
3. ``S`` holds the element a bound range is at (a subrange, a superrange, a copy): that element;
4. ``S`` is an element name: that element.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from defdip.core.errors import Unsupported

AGGREGATIONS = {"sum": "+", "prod": "*", "vmax": "max", "vmin": "min"}
XMILE_AGGREGATIONS = {"min": "vmin", "max": "vmax", "vmin_xmile": "vmin", "vmax_xmile": "vmax"}
PYSD_INSTEAD = "--engine pysd runs it"


def flat_name(name: str, elements) -> str:
    """An element's name as PySD names its output column: ``Stock A[Entry 1,Column 1]``."""
    return f"{name}[{','.join(elements)}]" if elements else name


def split_flat_name(name: str) -> tuple[str, tuple[str, ...]]:
    """``"x[a, b]"`` -> ``("x", ("a", "b"))``; a name without brackets -> ``(name, ())``."""
    text = name.strip()
    if not text.endswith("]") or "[" not in text:
        return text, ()
    base, _, inside = text[:-1].partition("[")
    return base.strip(), tuple(part.strip() for part in inside.split(","))


@dataclass(frozen=True)
class Ranges:
    """The subscript ranges of a model section: each range's elements and the ranges it maps to."""

    elements: dict
    mappings: dict

    @classmethod
    def of(cls, subscript_ranges) -> Ranges:
        """From PySD's ``AbstractSubscriptRange`` list (a copied range ``B <-> A`` gets A's elements)."""
        elements, mappings = {}, {}
        for rng in subscript_ranges:  # a copy may come before the range it copies
            listed = rng.subscripts
            elements[rng.name] = tuple(listed) if isinstance(listed, (list, tuple)) else ()
            mappings[rng.name] = tuple(m for m in (rng.mapping or ()) if isinstance(m, str))
        for rng in subscript_ranges:
            if isinstance(rng.subscripts, str):
                elements[rng.name] = elements.get(rng.subscripts, ())
                mappings[rng.name] += (rng.subscripts,)

        def expanded(name, seen=()):  # a range listed inside another (dim: A, subdim1, B) stands for its elements
            return tuple(e for item in elements[name] for e in (
                expanded(item, seen + (name,)) if item in elements and item not in seen else (item,)))

        return cls({name: expanded(name) for name in elements}, mappings)

    def position(self, element: str) -> int:
        """An element's number as Vensim gives it in an expression: its 1-based position in the
        largest range holding it (PySD's ``subscript2num``)."""
        holding = [els for els in self.elements.values() if element in els]
        main = max(holding, key=len)  # max keeps the first declared of equal length
        return main.index(element) + 1

    def members(self, name: str) -> tuple[str, ...]:
        """A range's elements, or ``(name,)`` for a single element."""
        return self.elements.get(name, (name,))

    def range_of(self, names) -> str:
        """The first-declared range holding every name (a name may itself be a range)."""
        names = set(names)
        if len(names) == 1 and next(iter(names)) in self.elements:
            return next(iter(names))
        wanted = set()
        for name in names:
            wanted.update(self.members(name))
        return next((r for r, els in self.elements.items() if wanted <= set(els)), ", ".join(sorted(names)))

    def dimensions(self, components) -> tuple[str, ...]:
        """The full range of each dimension, from the left-hand sides of every component."""
        columns = zip(*(component.subscripts[0] for component in components))
        return tuple(self.range_of(column) for column in columns)


@dataclass(frozen=True)
class Piece:
    """One element of one left-hand side: its elements, the ranges bound to them, its component."""

    elements: tuple[str, ...]
    bindings: dict
    component: object
    index: tuple[int, ...]  # position in the component's array of numbers (ranged dimensions only)
    shape: tuple[int, ...] = ()  # that array's shape (the sizes of the ranged dimensions)


def pieces(components, ranges: Ranges) -> list[Piece]:
    """Every element a variable defines, in PySD's column order (each dimension's range order).

    An element defined by more than one component takes the last, as PySD does.
    """
    dims = ranges.dimensions(components)
    found: dict[tuple, Piece] = {}
    for component in components:
        subs, excepts = component.subscripts
        choices = [ranges.members(s) for s in subs]
        for combo in itertools.product(*choices):
            if any(all(e in ranges.members(x) for e, x in zip(combo, ex)) for ex in excepts):
                continue
            bindings = {s: e for s, e in zip(subs, combo) if s in ranges.elements}
            index = tuple(ranges.members(s).index(e) for s, e in zip(subs, combo) if s in ranges.elements)
            shape = tuple(len(ranges.members(s)) for s in subs if s in ranges.elements)
            found[combo] = Piece(combo, bindings, component, index, shape)
    order = [ranges.members(d) for d in dims]
    rank = [{e: i for i, e in enumerate(els)} for els in order]
    return sorted(found.values(), key=lambda p: tuple(r.get(e, len(r)) for r, e in zip(rank, p.elements)))


def element_names(name: str, components, ranges: Ranges) -> tuple[str, ...]:
    """The flat names of a subscripted variable's elements (empty for a scalar)."""
    if not any(c.subscripts[0] for c in components):
        return ()
    return tuple(flat_name(name, p.elements) for p in pieces(components, ranges))


def element_value(piece: Piece):
    """A piece's own number when its component is a number or an array of numbers, else ``None``."""
    ast = piece.component.ast
    if isinstance(ast, np.ndarray):
        if ast.ndim and ast.ndim != len(piece.index):  # TABBED ARRAY: one row, read row by row
            ast = ast.reshape(piece.shape)
        return float(ast[piece.index] if ast.ndim else ast)
    if isinstance(ast, (int, float)) and not isinstance(ast, bool):
        return float(ast)
    return None


@dataclass(frozen=True)
class FlatElement:
    """One scalar element of a flattened model: PySD's element, with a scalar syntax tree."""

    name: str          # "Stock A[Entry 1,Column 1]", or the variable's name when scalar
    key: str           # what references to it say after flattening
    base: str          # the variable's name
    elements: tuple    # its subscript elements (empty when scalar)
    ast: object
    kind: str          # PySD's component type: "Auxiliary", "Lookup", "Data", ...


def key_of(name: str) -> str:
    """The key a reference uses for a variable, as PySD's abstract model writes it."""
    return name.lower().replace(" ", "_")


def flatten(section, path) -> list[FlatElement]:
    """Every element of a section's variables as a scalar equation (scalars unchanged).

    Raises
    ------
    Unsupported
        Naming the variable and construct that cannot be written per element.
    """
    ranges = Ranges.of(section.subscripts)
    grouped: dict[str, list] = {}
    for el in section.elements:
        grouped.setdefault(el.name, []).extend(el.components)
    dims = {key_of(name): ranges.dimensions(comps) for name, comps in grouped.items()}
    writer = _Writer(ranges, dims, path)
    out = []
    for name, comps in grouped.items():
        if not any(c.subscripts[0] for c in comps):
            if len(comps) != 1:
                raise Unsupported(f"{path}: {name!r} is defined {len(comps)} times; {PYSD_INSTEAD}")
            comp = comps[0]
            out.append(FlatElement(name, key_of(name), name, (), writer.scalar(comp.ast, {}, name),
                                   type(comp).__name__))
            continue
        for piece in pieces(comps, ranges):
            label = flat_name(name, piece.elements)
            number = element_value(piece)
            ast = number if number is not None else writer.scalar(piece.component.ast, piece.bindings, label)
            out.append(FlatElement(label, flat_name(key_of(name), piece.elements), name, piece.elements, ast,
                                   type(piece.component).__name__))
    return out


class _Writer:
    """Rewrites one equation's syntax tree for one element (see the module docstring)."""

    def __init__(self, ranges: Ranges, dims: dict, path):
        self.ranges, self.dims, self.path = ranges, dims, path
        # a range or an element named in an expression is a number (Vensim): by key, what it names
        self.numbered = {key_of(e): e for els in ranges.elements.values() for e in els}
        self.numbered.update({key_of(r): r for r in ranges.elements})

    def scalar(self, ast, bindings: dict, label: str):
        self.label = label
        return self._rewrite(ast, bindings)

    def _rewrite(self, ast, bindings: dict):
        if isinstance(ast, np.ndarray):
            raise Unsupported(f"{self.path}: {self.label!r}: an array of numbers inside an equation; "
                              f"{PYSD_INSTEAD}")
        kind = type(ast).__name__
        if kind == "ReferenceStructure":
            return self._reference(ast, bindings)
        if kind == "CallStructure":
            return self._call(ast, bindings)
        if not dataclasses.is_dataclass(ast):
            return ast
        changes = {}
        for f in dataclasses.fields(ast):
            value = getattr(ast, f.name)
            if isinstance(value, (list, tuple)):
                changes[f.name] = type(value)(self._rewrite(v, bindings) for v in value)
            elif dataclasses.is_dataclass(value) or isinstance(value, np.ndarray):
                changes[f.name] = self._rewrite(value, bindings)
        return dataclasses.replace(ast, **changes) if changes else ast

    def _reference(self, ast, bindings: dict):
        if ast.reference == "time":
            return ast
        if ast.reference not in self.dims and ast.reference in self.numbered:
            name = self.numbered[ast.reference]
            element = self._element(name, bindings, name) if name in self.ranges.elements else name
            return float(self.ranges.position(element))
        key = self._element_key(ast.reference, ast.subscripts, bindings)
        return dataclasses.replace(ast, reference=key, subscripts=None)

    def _element_key(self, reference: str, subscripts, bindings: dict) -> str:
        dims = self.dims.get(reference)
        if dims is None:  # a function's name, or a name the model lacks: the engine says which
            return reference
        names = list(subscripts.subscripts) if subscripts is not None else list(dims)
        if len(names) != len(dims):
            raise Unsupported(f"{self.path}: {self.label!r} reads {reference!r} with {len(names)} subscripts; "
                              f"it has {len(dims)}; {PYSD_INSTEAD}")
        return flat_name(reference, tuple(self._element(n, bindings, reference) for n in names))

    def _element(self, name: str, bindings: dict, reference: str) -> str:
        if name in bindings:
            return bindings[name]
        if name.endswith("!"):
            raise Unsupported(f"{self.path}: {self.label!r}: {reference}[{name}] outside SUM, PROD, VMIN or "
                              f"VMAX is not supported by the ensemble engine; {PYSD_INSTEAD}")
        ranges = self.ranges
        if name not in ranges.elements:
            return name
        own = ranges.elements[name]
        for bound, element in bindings.items():
            b = bound.rstrip("!")
            mapped = b in ranges.mappings.get(name, ()) or name in ranges.mappings.get(b, ())
            if mapped and b in ranges.elements and len(ranges.elements[b]) == len(own):
                return own[ranges.elements[b].index(element)]
        for element in bindings.values():
            if element in own:
                return element
        raise Unsupported(f"{self.path}: {self.label!r}: subscript {name!r} of {reference!r} matches none of "
                          f"the equation's own subscripts; {PYSD_INSTEAD}")

    def _call(self, ast, bindings: dict):
        name = ast.function.reference
        if name in AGGREGATIONS and len(ast.arguments) == 1:
            return self._aggregate(name, ast.arguments[0], bindings)
        if name in XMILE_AGGREGATIONS and len(ast.arguments) == 1:
            # XMILE: MIN(x[dim]) over the array
            return self._aggregate(XMILE_AGGREGATIONS[name], ast.arguments[0], bindings, loose=True)
        if name == "elmcount" and len(ast.arguments) == 1:
            counted = self.numbered.get(getattr(ast.arguments[0], "reference", None))
            if counted in self.ranges.elements:
                return float(len(self.ranges.elements[counted]))
        function = ast.function
        if function.subscripts is not None or name in self.dims:  # a (subscripted) lookup
            function = dataclasses.replace(function, reference=self._element_key(name, function.subscripts,
                                                                                 bindings), subscripts=None)
        banged = self._banged(ast, bindings)
        if banged:
            raise Unsupported(f"{self.path}: {self.label!r}: {name.upper()} over {', '.join(sorted(banged))} "
                              f"is not supported by the ensemble engine; {PYSD_INSTEAD}")
        return dataclasses.replace(ast, function=function,
                                   arguments=tuple(self._rewrite(a, bindings) for a in ast.arguments))

    def _aggregate(self, name: str, argument, bindings: dict, loose: bool = False):
        """``SUM(x[d!])`` and its kin written out over d's elements, as a balanced tree.

        ``loose``: XMILE's ``MIN(x[d])`` runs over a range the equation does not bind, unbanged.
        """
        over = sorted(self._banged(argument, bindings, loose))
        if not over:
            return self._rewrite(argument, bindings)  # Vensim: an aggregate of one value is that value
        terms = [self._rewrite(argument, {**bindings, **dict(zip(over, combo))})
                 for combo in itertools.product(*(self.ranges.members(b.rstrip("!")) for b in over))]
        return _balanced(terms, AGGREGATIONS[name])

    def _banged(self, ast, bindings: dict, loose: bool = False) -> set:
        """The ranges an expression runs over: ``d!`` (and, if ``loose``, any unbound range ``d``)."""
        found = set()
        kind = type(ast).__name__
        if kind == "CallStructure" and ast.function.reference in AGGREGATIONS and len(ast.arguments) == 1:
            return found  # an aggregation inside runs over its own ranges
        if kind == "SubscriptsReferenceStructure":
            return {s for s in ast.subscripts if s not in bindings and (
                s.endswith("!") or (loose and s in self.ranges.elements and not self._matched(s, bindings)))}
        if dataclasses.is_dataclass(ast):
            for f in dataclasses.fields(ast):
                value = getattr(ast, f.name)
                for item in value if isinstance(value, (list, tuple)) else (value,):
                    found |= self._banged(item, bindings, loose)
        return found

    def _matched(self, name: str, bindings: dict) -> bool:
        try:
            self._element(name, bindings, name)
        except Unsupported:
            return False
        return True


def _balanced(terms: list, op: str):
    """``terms`` combined pairwise (depth log2 n, so long sums stay shallow for the compiler)."""
    from pysd.translators.structures.abstract_expressions import (ArithmeticStructure, CallStructure,
                                                                  ReferenceStructure)

    while len(terms) > 1:
        paired = []
        for a, b in itertools.zip_longest(terms[::2], terms[1::2]):
            if b is None:
                paired.append(a)
            elif op in ("max", "min"):
                paired.append(CallStructure(ReferenceStructure(op), (a, b)))
            else:
                paired.append(ArithmeticStructure([op], (a, b)))
        terms = paired
    return terms[0]
