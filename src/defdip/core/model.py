"""Load Vensim models through PySD: translate once, cache by content hash, describe.

The first stage of the pipeline. A ``.mdl`` file is translated by PySD into Python
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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from defdip.core.errors import InputError
from defdip.core.resources import DEFAULT_MODEL

TRANSLATED_NAME = "model"
CONTROL_NAMES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")


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
        The right-hand side as written in the model file.
    comment : str
        The documentation field (source or reasoning).
    """

    name: str
    py_name: str
    kind: str
    units: str
    low: float | None
    high: float | None
    equation: str
    comment: str

    @property
    def value(self) -> float | None:
        """The number a constant is set to in the file, else ``None``."""
        try:
            return float(self.equation)
        except ValueError:
            return None


@dataclass(frozen=True)
class ModelInfo:
    """What a model file declares: its variables and its control settings."""

    path: Path
    sha256: str
    variables: Mapping[str, Variable]

    def control(self, name: str) -> float:
        """Value of a control constant such as ``"TIME STEP"`` [model time units].

        Follows a reference to another variable, as in the common ``SAVEPER = TIME STEP``.
        """
        seen = [name]
        while True:
            equation = self.variables[seen[-1]].equation
            try:
                return float(equation)
            except ValueError:
                pass
            target = self.resolve(equation, where=f"{self.path}: {seen[-1]}").name
            if target in seen:
                raise InputError(f"{self.path}: {name} refers to itself: {' -> '.join(seen + [target])}")
            seen.append(target)

    @property
    def constants(self) -> dict[str, Variable]:
        """Constants a scenario may set (control settings excluded)."""
        return {n: v for n, v in self.variables.items() if v.kind == "constant"}

    def resolve(self, name: str, where: str = "") -> Variable:
        """Find a variable by its Vensim name, forgiving case and spacing.

        Raises
        ------
        InputError
            If no variable has that name; the message suggests the closest names.
        """
        key = _canonical(name)
        for var in self.variables.values():
            if _canonical(var.name) == key:
                return var
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


def _canonical(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


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


def _check_model_path(path: Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".mdl":
        raise InputError(f"{path}: model must be a Vensim .mdl file, got {path.suffix or 'no suffix'!r}")
    if not path.is_file():
        raise InputError(f"{path}: model file not found")
    return path.resolve()


def translate(path: Path) -> Path:
    """Translate a Vensim model with PySD unless a translation of the same bytes exists.

    Parameters
    ----------
    path : Path
        The ``.mdl`` file.

    Returns
    -------
    Path
        The cached Python translation.
    """
    path = _check_model_path(path)
    digest = file_hash(path)
    target = cache_dir() / digest
    py_file = target / (TRANSLATED_NAME + ".py")  # content-keyed, so not named after the file
    if py_file.is_file():
        return py_file
    import pysd

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        copy = work / (TRANSLATED_NAME + ".mdl")
        shutil.copyfile(path, copy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pysd.read_vensim(str(copy), initialize=False)
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
    """A fresh PySD model object for a Vensim file (translated once, then cached)."""
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
    variables = {row["name"]: Variable(**row) for row in rows}
    return ModelInfo(path=path, sha256=digest, variables=MappingProxyType(variables))


def model_info(path: Path = DEFAULT_MODEL) -> ModelInfo:
    """Describe a model file's variables (parsed once per file content, then cached)."""
    path = _check_model_path(path)
    return _model_info_cached(path, file_hash(path))


def _info_cache_file(digest: str) -> Path:
    return cache_dir() / f"{digest}.variables.json"


@lru_cache(maxsize=1)
def pysd_version() -> str:
    """The installed PySD's version, read from its metadata (importing PySD takes 0.15 s)."""
    from importlib.metadata import version

    return version("pysd")


def cache_dir() -> Path:
    """This PySD version's folder in the cache: translations must not cross versions."""
    return cache_root() / f"pysd-{pysd_version()}"


def _parse_variables(path: Path) -> list[dict]:
    """Variables as PySD's Vensim parser sees them, with their kind from the abstract model."""
    from pysd.translators.vensim.vensim_file import VensimFile

    vensim = VensimFile(str(path))
    vensim.parse()
    kinds = {el.name: _kind(el.components[0]) for section in vensim.get_abstract_model().sections
             for el in section.elements}
    rows = []
    for section in vensim.sections:
        for el in section.elements:
            low, high = (_finite(x) for x in (el.limits or (None, None)))
            kind = "control" if el.name in CONTROL_NAMES else kinds.get(el.name, "auxiliary")
            rows.append(dict(name=el.name, py_name=_py_name(el.name), kind=kind, units=el.units or "",
                             low=low, high=high, equation=" ".join(el.expression.split()),
                             comment=" ".join((el.documentation or "").split())))
    return rows


def _kind(component) -> str:
    """Classify an abstract component the way PySD's builder does."""
    ast = type(component.ast).__name__
    if isinstance(component.ast, (int, float)):
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
