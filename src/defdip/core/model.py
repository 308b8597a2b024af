"""Load Vensim and XMILE models through PySD: translate once, cache by content hash, describe.

The first stage of the pipeline. A Vensim ``.mdl`` or an XMILE ``.xmile``/``.stmx`` file
is translated by PySD (``pysd.read_vensim`` / ``pysd.read_xmile``) into Python
once per (file content, PySD version) and the translation is kept in a cache
directory outside the source tree, so an edited model is never run from a stale
translation. Every call to :func:`load_model` returns a fresh model object: PySD
keeps parameters set by ``run(params=...)`` on the object, so objects are never
reused between runs.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType

from defdip.core.arrays import Ranges, element_value, flat_name, pieces, split_flat_name
from defdip.core.errors import InputError
from defdip.core.names import canonical
from defdip.core.resources import DEFAULT_MODEL

TRANSLATED_NAME = "model"
CONTROL_NAMES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")
# The suffixes PySD's translators accept (``supported_extensions`` in
# ``pysd.translators.vensim.vensim_utils`` and ``pysd.translators.xmile.xmile_utils``), written
# out so that checking a path does not import PySD.
VENSIM_SUFFIXES = (".mdl",)
XMILE_SUFFIXES = (".xmile", ".stmx", ".xml")
INFO_VERSION = 3  # layout of the cached variable list; bump when a row's meaning changes


@dataclass(frozen=True)
class Variable:
    """One model variable as the modeller wrote it.

    Attributes
    ----------
    name : str
        Vensim name, case and spacing as in the model.
    py_name : str
        PySD's Python name.
    kind : str
        ``"constant"``, ``"stock"``, ``"auxiliary"``, ``"lookup"``, ``"data"``
        or ``"control"``.
    units : str
        Units as declared (empty when none).
    low, high : float or None
        Declared range, ``None`` where open.
    equation : str
        The right-hand side as written in the model file; a variable defined piece by
        piece reads ``[A1] = 1; [A2] = 2``. For an XMILE stock, ``INTEG(inflows - outflows, initial)``.
    comment : str
        The documentation field (source or reasoning).
    subscripts : tuple of str
        The subscript ranges the variable is defined over, one per dimension (empty when scalar).
    elements : tuple of str
        A subscripted variable's elements, named as PySD names its output columns
        (``Stock A[Entry 1,Column 1]``), in PySD's column order; empty when scalar.
    element_values : tuple
        A subscripted constant's number per element (``None`` where an element is an
        expression); empty otherwise.
    """

    name: str
    py_name: str
    kind: str
    units: str
    low: float | None
    high: float | None
    equation: str
    comment: str
    subscripts: tuple[str, ...] = ()
    elements: tuple[str, ...] = ()
    element_values: tuple = ()

    @property
    def value(self) -> float | None:
        """The number a constant is set to in the file, else ``None`` (an array: every element's
        number when they are all one number)."""
        if self.elements:
            values = set(self.element_values)
            return values.pop() if len(values) == 1 and None not in values else None
        try:
            return float(self.equation)
        except ValueError:
            return None

    def element(self, name: str) -> Variable:
        """One element of a subscripted variable as a variable of its own (same kind, units, range).

        ``name`` is the element's flat name (``growth rate[Iran]``), forgiving case and spacing.

        Raises
        ------
        InputError
            For an element the variable does not have; the message lists them.
        """
        def key(flat):
            base, subscripts = split_flat_name(flat)
            return canonical(base), tuple(canonical(s) for s in subscripts)

        wanted = key(name)
        for i, flat in enumerate(self.elements):
            if key(flat) == wanted:
                value = self.element_values[i] if i < len(self.element_values) else None
                return replace(self, name=flat, equation="" if value is None else repr(value), elements=(),
                               element_values=(), subscripts=())
        raise InputError(f"{name!r}: {self.name!r} has no such element; its elements: "
                         f"{', '.join(self.elements)}")

    @property
    def columns(self) -> tuple[str, ...]:
        """The output columns this variable gives, as PySD names them: its elements, or its own
        name when scalar or an array of one element."""
        return self.elements if len(self.elements) > 1 else (self.name,)


@dataclass(frozen=True)
class ModelInfo:
    """What a model file declares: its variables and its control settings."""

    path: Path
    sha256: str
    variables: Mapping[str, Variable]

    def control(self, name: str) -> float:
        """Value of a control constant such as ``"TIME STEP"`` [model time units].

        Follows a reference to another variable, as in the common ``SAVEPER = TIME STEP``;
        names are matched as Vensim does (``INITIAL_TIME`` is ``INITIAL TIME``).

        Raises
        ------
        InputError
            If the setting is missing, circular, or an equation (``IF THEN ELSE(...)``).
        """
        seen = [self.resolve(name, where=str(self.path)).name]
        while True:
            equation = self.variables[seen[-1]].equation
            try:
                return float(equation)
            except ValueError:
                pass
            try:
                target = self.resolve(equation).name
            except InputError:
                raise InputError(f"{self.path}: {seen[-1]} = {equation!r}: a time setting must be a number "
                                 "or the name of a variable set to one") from None
            if target in seen:
                raise InputError(f"{self.path}: {name} refers to itself: {' -> '.join(seen + [target])}")
            seen.append(target)

    @property
    def constants(self) -> dict[str, Variable]:
        """Constants a scenario may set (control settings excluded)."""
        return {n: v for n, v in self.variables.items() if v.kind == "constant"}

    @cached_property
    def _by_canonical(self) -> dict[str, Variable]:
        """Variables by canonical name, the first of a clash kept. Built once: a batch resolves
        every sampled constant on every call, and a scan per name cost 0.6 ms."""
        index = {}
        for var in self.variables.values():
            index.setdefault(canonical(var.name), var)
        return index

    def resolve(self, name: str, where: str = "") -> Variable:
        """Find a variable by its Vensim name, forgiving case and spacing.

        Raises
        ------
        InputError
            If no variable has that name; the message suggests the closest names.
        """
        var = self._by_canonical.get(canonical(name))
        if var is not None:
            return var
        base, subscripts = split_flat_name(name)
        if subscripts:
            var = self.resolve(base, where)
            if not var.elements:
                raise InputError(f"{where + ': ' if where else ''}{var.name!r} is not subscripted; "
                                 f"write it without [{', '.join(subscripts)}]")
            try:
                return var.element(name)
            except InputError as exc:
                raise InputError(f"{where + ': ' if where else ''}{exc}") from None
        raise InputError(unknown_name_message(name, self.variables, where))


def unknown_name_message(name: str, known, where: str = "") -> str:
    """Message for an unknown variable name, with a "did you mean" when one is close."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[k] for k in difflib.get_close_matches(name.lower(), lowered, n=3, cutoff=0.5)]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
        "; `defdip describe` lists the model's variables"
    prefix = f"{where}: " if where else ""
    return f"{prefix}unknown variable {name!r}{hint}"


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cache_root() -> Path:
    """Directory holding translations: ``$DEFDIP_CACHE_DIR`` or ``~/.cache/defdip``."""
    env = os.environ.get("DEFDIP_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "defdip"


def model_format(path: Path) -> str:
    """``"vensim"`` or ``"xmile"``, from the file's suffix (case ignored).

    Raises
    ------
    InputError
        For any other suffix, naming the allowed ones.
    """
    suffix = Path(path).suffix.lower()
    if suffix in VENSIM_SUFFIXES:
        return "vensim"
    if suffix in XMILE_SUFFIXES:
        return "xmile"
    allowed = ", ".join(VENSIM_SUFFIXES + XMILE_SUFFIXES)
    raise InputError(f"{path}: model must be a Vensim or XMILE file ({allowed}), "
                     f"got {Path(path).suffix or 'no suffix'!r}")


def check_model_path(path: Path) -> Path:
    """The absolute path of an existing model file of a format PySD translates.

    Raises
    ------
    InputError
        If the suffix is not one of ``VENSIM_SUFFIXES + XMILE_SUFFIXES`` or the file is missing.
    """
    path = Path(path)
    model_format(path)
    if not path.is_file():
        raise InputError(f"{path}: model file not found")
    return path.resolve()


def translate(path: Path) -> Path:
    """Translate a model with PySD unless a translation of the same bytes exists.

    The cache is keyed by the file's bytes alone: a Vensim and an XMILE file can never
    share bytes (one is XML), and ``.xmile``/``.stmx`` copies of one file translate alike.

    Parameters
    ----------
    path : Path
        The ``.mdl``, ``.xmile`` or ``.stmx`` file.

    Returns
    -------
    Path
        The cached Python translation.
    """
    path = check_model_path(path)
    digest = file_hash(path)
    target = cache_dir() / digest
    py_file = target / (TRANSLATED_NAME + ".py")  # content-keyed, so not named after the file
    if py_file.is_file():
        return py_file
    import pysd

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        copy = work / (TRANSLATED_NAME + path.suffix.lower())
        shutil.copyfile(path, copy)
        read = pysd.read_vensim if model_format(path) == "vensim" else pysd.read_xmile
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            read(str(copy), initialize=False)
        _install(work, target, py_file)
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise InputError(f"{path}: PySD could not translate the model: {exc}") from exc
    return py_file


def _install(work: Path, target: Path, py_file: Path) -> None:
    """Move a finished translation into place; replace an incomplete or outdated entry."""
    try:
        os.replace(work, target)
        return
    except OSError:
        if py_file.is_file():  # another process won the race with the same content
            shutil.rmtree(work, ignore_errors=True)
            return
    shutil.rmtree(target, ignore_errors=True)  # left by an older layout or an interrupted run
    os.replace(work, target)


def load_model(path: Path = DEFAULT_MODEL):
    """A fresh PySD model object for a Vensim or XMILE file (translated once, then cached)."""
    import pysd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pysd.load(str(translate(path)))


@lru_cache(maxsize=16)
def _model_info_cached(path: Path, digest: str) -> ModelInfo:
    cached = _info_cache_file(digest)
    if cached.is_file():
        rows = json.loads(cached.read_text(encoding="utf-8"))
    else:
        rows = _parse_variables(path)
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(cached.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rows), encoding="utf-8")
        os.replace(tmp, cached)
    variables = {row["name"]: Variable(**{**row, **{k: tuple(row.get(k, ())) for k in
                                                  ("subscripts", "elements", "element_values")}})
                 for row in rows}
    return ModelInfo(path=path, sha256=digest, variables=MappingProxyType(variables))


def model_info(path: Path = DEFAULT_MODEL) -> ModelInfo:
    """Describe a model file's variables (parsed once per file content, then cached)."""
    path = check_model_path(path)
    return _model_info_cached(path, file_hash(path))


def _info_cache_file(digest: str) -> Path:
    return cache_dir() / f"{digest}.variables-{INFO_VERSION}.json"


@lru_cache(maxsize=1)
def pysd_version() -> str:
    """The installed PySD's version, read from its metadata (importing PySD takes 0.15 s)."""
    from importlib.metadata import version

    return version("pysd")


def cache_dir() -> Path:
    """This PySD version's folder in the cache: translations must not cross versions."""
    return cache_root() / f"pysd-{pysd_version()}"


def parsed_model(path: Path):
    """PySD's parsed file (``VensimFile`` or ``XmileFile``) for a model, after ``parse()``."""
    if model_format(path) == "vensim":
        from pysd.translators.vensim.vensim_file import VensimFile as reader
    else:
        from pysd.translators.xmile.xmile_file import XmileFile as reader
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PySD's notes on constructs it reads loosely
        parsed = reader(str(path))
        parsed.parse()
    return parsed


def abstract_model(path: Path):
    """PySD's abstract model of a Vensim or XMILE file (what PySD's builder translates)."""
    return parsed_model(path).get_abstract_model()


def _parse_variables(path: Path) -> list[dict]:
    """Variables as PySD's parser sees them, with their kind from the abstract model.

    Only the main section: the variables inside a Vensim macro are the macro's, not the model's.
    """
    try:
        parsed = parsed_model(path)
        model = parsed.get_abstract_model()
    except InputError:
        raise
    except Exception as exc:  # PySD's parsers raise many types; any of them means the file is unreadable
        raise InputError(f"{path}: PySD could not parse the model: {type(exc).__name__}: {exc}") from exc
    main = next(section for section in model.sections if section.type == "main")
    equations = _equations(parsed, model_format(path))
    ranges = Ranges.of(main.subscripts)
    grouped: dict = {}
    for el in main.elements:  # a variable defined piece by piece may come as several elements
        grouped.setdefault(el.name, []).append(el)
    rows = [_row(els, equations.get(els[0].name, ""), ranges) for els in grouped.values()]
    if all(row["kind"] == "control" for row in rows):
        # e.g. a Stella file whose XML namespace PySD's XMILE reader does not look in
        raise InputError(f"{path}: PySD found no variables in the model besides the time settings")
    return rows


def _row(els, equation: str, ranges: Ranges) -> dict:
    """One abstract variable (its elements' components together) as the plain data
    :class:`Variable` is built from (and cached as)."""
    el = els[0]
    components = [c for e in els for c in e.components]
    low, high = (_finite(x) for x in (el.limits or (None, None)))
    control = canonical(el.name) in {canonical(c) for c in CONTROL_NAMES}  # INITIAL_TIME too
    kind = "control" if control else _element_kind(components)
    subscripted = any(c.subscripts[0] for c in components)
    found = pieces(components, ranges) if subscripted else []
    return {"name": el.name, "py_name": _py_name(el.name), "kind": kind,
            "units": el.units or "", "low": low, "high": high, "equation": " ".join(equation.split()),
            "comment": " ".join((el.documentation or "").split()),
            "subscripts": list(ranges.dimensions(components)),
            "elements": [flat_name(el.name, p.elements) for p in found],
            "element_values": [element_value(p) for p in found] if kind == "constant" else []}


def _equations(parsed, fmt: str) -> dict[str, str]:
    """Each variable's right-hand side as written, by name; pieces joined as ``[A1] = 1; ...``."""
    pieces: dict[str, list[tuple[str, str]]] = {}
    main = next(section for section in parsed.sections if section.type == "main")
    for el in main.elements:
        pieces.setdefault(el.name, []).extend(_pieces(el, fmt))
    out = {}
    for name, parts in pieces.items():
        if len(parts) == 1:
            out[name] = parts[0][1]
        elif parts:
            out[name] = "; ".join(f"[{subs}] = {text}" for subs, text in parts)
    return out


def _pieces(el, fmt: str) -> list[tuple[str, str]]:
    """``(subscripts, right-hand side)`` of one parsed element; none for a subscript range.

    A subscript range is told by what it lacks (an expression, an XML node or a control
    equation): PySD's two parsers have a class each for it, with no common base.
    """
    if fmt == "vensim":
        return [(", ".join(el.subscripts[0]), el.expression)] if hasattr(el, "expression") else []
    return _xmile_pieces(el) if hasattr(el, "node") or hasattr(el, "eqn") else []


def _xmile_pieces(el) -> list[tuple[str, str]]:
    """An XMILE element's equations: one, or one per ``<element subscript=...>``."""
    if not hasattr(el, "node"):  # a control setting from <sim_specs>
        return [("", el.eqn or "")]
    ns = el.ns

    def text(node, tag: str) -> str:
        return (node.findtext(f"ns:{tag}", default="", namespaces=ns) or "").strip()

    nodes = el.node.xpath("ns:element", namespaces=ns) or [el.node]
    parts = [(node.get("subscript", ""), text(node, "eqn")) for node in nodes]
    if el.node.tag.endswith("}stock"):
        inflows = [(n.text or "").strip() for n in el.node.xpath("ns:inflow", namespaces=ns)]
        outflows = [(n.text or "").strip() for n in el.node.xpath("ns:outflow", namespaces=ns)]
        rate = " + ".join(inflows) + "".join(f" - {o}" for o in outflows)
        rate = "-" + rate[3:] if rate.startswith(" - ") else rate or "0"
        parts = [(subs, f"INTEG({rate}, {init})") for subs, init in parts]
    return parts


def _element_kind(components) -> str:
    """An element's kind: a constant only if every piece is a number or an array of numbers."""
    kinds = [_kind(component) for component in components]
    return next((k for k in kinds if k != "constant"), "constant")


def _kind(component) -> str:
    """Classify an abstract component the way PySD's builder does."""
    import numpy as np  # only here: parsing has imported PySD, and numpy with it

    ast = type(component.ast).__name__
    if isinstance(component.ast, (int, float, np.ndarray)):
        return "constant"
    if ast == "IntegStructure":
        return "stock"
    if ast in ("LookupsStructure", "GetLookupsStructure"):
        return "lookup"
    if ast in ("DataStructure", "GetDataStructure"):
        return "data"
    return "auxiliary"


def _py_name(name: str) -> str:
    return "_".join(name.lower().split())


def _finite(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x
