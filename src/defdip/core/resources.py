"""The files shipped with defdip: the model, its scenarios and the data they cite.

The repository keeps one copy of each at its top level (``models/``, ``scenarios/``,
``data/``); the build carries them into the package as ``defdip/shipped/``, and the code
finds them through :mod:`importlib.resources`, so a wheel, ``pip install .`` and an
editable install read the same files from wherever the package is installed.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped(*parts: str) -> Path:
    """The path of a shipped file, e.g. ``shipped("scenarios", "baseline.yaml")``.

    The package is installed as plain files (pip never installs it zipped), so the
    traversable :func:`importlib.resources.files` returns is a real directory.
    """
    return Path(str(resources.files("defdip.shipped").joinpath(*parts)))


MODELS_DIR = shipped("models")
SCENARIO_DIR = shipped("scenarios")
DATA_DIR = shipped("data")
DEFAULT_MODEL = MODELS_DIR / "iran_russia.mdl"
BASELINE = SCENARIO_DIR / "baseline.yaml"


def checks_file(model: str | Path) -> Path:
    """A model's reality checks: ``NAME.checks.yaml`` beside ``NAME.mdl`` (read by ``defdip validate``)."""
    model = Path(model)
    return model.with_name(f"{model.stem}.checks.yaml")


CHECKS_FILE = checks_file(DEFAULT_MODEL)
IMPACT_MATRIX = MODELS_DIR / "impact_matrix.csv"
IMPACT_MAPPING = MODELS_DIR / "impact_matrix_mapping.yaml"
SERIES_FILE = DATA_DIR / "series.csv"
EVENTS_FILE = DATA_DIR / "events.csv"


def shipped_scenarios() -> list[Path]:
    """The shipped scenario files of the default model, sorted by name."""
    return sorted(SCENARIO_DIR.glob("*.yaml"))


def other_shipped_scenarios() -> list[Path]:
    """The shipped scenarios of other models, one folder per model (``scenarios/partners/``)."""
    return sorted(SCENARIO_DIR.glob("*/*.yaml"))


def scenario_path(arg: str | Path) -> Path:
    """A scenario argument as a file: the path itself when it exists, else the shipped scenario
    of that name (``ceasefire_2027``, ``ceasefire_2027.yaml`` or ``scenarios/ceasefire_2027.yaml``),
    so shipped scenarios can be named from any working directory. Anything else is returned as
    given, for the loader to report as not found.
    """
    path = Path(arg)
    if path.exists():
        return path
    name = path.name if path.suffix == ".yaml" else f"{path.name}.yaml"
    if path.parent in (Path("."), Path("scenarios")):  # a shipped name: the default model's, then others'
        for shipped_file in [SCENARIO_DIR / name, *other_shipped_scenarios()]:
            if shipped_file.name == name and shipped_file.is_file():
                return shipped_file
    return path


def model_path(arg: str | Path) -> Path:
    """A ``--model`` argument as a file: the path itself when it exists, else the shipped model of
    that name (``iran_russia.mdl`` or ``models/iran_russia.mdl``), so it can be named from any
    folder. Anything else is returned as given, for the loader to report as not found."""
    path = Path(arg)
    if not path.exists() and path.parent in (Path("."), Path("models")) and (MODELS_DIR / path.name).is_file():
        return MODELS_DIR / path.name
    return path


def shipped_glob(paths) -> list[Path]:
    """``paths`` with a pattern the shell left as typed (``scenarios/*.yaml`` in a folder without
    one) replaced by the shipped scenarios it matches, so the README's examples run anywhere."""
    out = []
    for path in map(Path, paths):
        magic = any(c in str(path) for c in "*?[")
        matched = sorted(SCENARIO_DIR.glob(path.name)) if magic and path.parent in (Path("."), Path("scenarios")) \
            else []
        out += matched if matched and not path.exists() else [path]
    return out


def missing_scenario(arg: str | Path) -> str:
    """Why ``arg`` names no scenario: not a file, and (with a "did you mean") not a shipped name."""
    import difflib

    names = [p.stem for p in shipped_scenarios() + other_shipped_scenarios()]
    stem = Path(arg).stem if Path(arg).suffix == ".yaml" else Path(arg).name
    close = difflib.get_close_matches(stem, names, n=2, cutoff=0.7)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (f"{arg}: scenario file not found, and no shipped scenario has that name{hint} "
            "(defdip scenarios lists them)")
