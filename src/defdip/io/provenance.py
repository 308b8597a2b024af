"""Provenance of a result: what ran, on which model file, with which package versions.

One builder, :func:`provenance`, makes the ``manifest.json`` of a run and of a sweep.
"""
from __future__ import annotations

from defdip.core.model import file_hash
from defdip.core.scenario import scenario_record

PACKAGES = ("defdip", "pysd", "numpy", "pandas", "scipy", "xarray", "matplotlib", "pyyaml")


def versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on."""
    import platform  # here, not at import: a run reaches this while its figure is being drawn
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(scenario, engine: str, command_line, **extra) -> dict:
    """The manifest of a result made from ``scenario`` on ``engine``: what ran, on what, how.

    ``extra`` adds the facts of that kind of result (a run's step and time, a sweep's design).
    """
    return {"scenario": scenario_record(scenario), "model_file": str(scenario.model),
            "model_sha256": file_hash(scenario.model), "versions": versions(), "engine": engine,
            "command_line": list(command_line or []), **extra}
