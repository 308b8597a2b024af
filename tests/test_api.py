"""The public API: ``import defdip`` gives the documented functions, each defined once in its room."""
import importlib
import subprocess
import sys

import pytest

import defdip


@pytest.mark.parametrize("name", sorted(defdip.API))
def test_each_public_name_is_the_object_of_its_room(name):
    assert getattr(defdip, name) is getattr(importlib.import_module(defdip.API[name]), name)
    assert name in dir(defdip)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        defdip.simulat  # noqa: B018


def test_import_defdip_loads_no_engine(tmp_path):
    code = "import sys, defdip; print(sorted(m for m in ('pysd', 'pandas', 'numba', 'xarray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_shipped_scenario_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("baseline", "partners_baseline"):
        scenario = defdip.load_scenario(name)
        assert scenario.name == name and scenario.source.is_file()
    with pytest.raises(defdip.InputError, match="no shipped scenario has that name"):
        defdip.load_scenario("no_such_scenario")
