"""`defdip explore` without a browser: controls, checked settings, band, overlays, saving, the page's callbacks."""
import errno
import os
import re
import sys

import numpy as np
import pytest
import yaml
from conftest import ROOT, SCENARIOS

from defdip.cli.main import main
from defdip.core.errors import InputError
from defdip.core.model import model_info
from defdip.core.scenario import load_scenario
from defdip.io.explore_state import (
    Settings,
    controls_for,
    grouped,
    key_numbers,
    load_overlay,
    model_groups,
    nice_step,
    run_once,
    save_figure_files,
    save_scenario,
    scenario_text,
    target_file,
    uncertainty_band,
)

MODEL = ROOT / "models" / "iran_russia.mdl"
# Panel 1.9 renames `name` to `label`; the extra allows Panel 1.4, which knows only `name`.
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


# The shipped baseline never turns strategic; this test condition does (and a 2025 ceasefire undoes it).
ALLIANCE = ROOT / "tests" / "scenarios" / "isolation_alliance.yaml"


@pytest.fixture(scope="module")
def base():
    return load_scenario(ALLIANCE)


def cli_error(capsys, *args) -> str:
    """What `defdip run ...` prints as its error (exit status 2)."""
    assert main(["run", *args]) == 2
    return capsys.readouterr().err.strip().removeprefix("defdip: error: ")


# --- controls --------------------------------------------------------------------------------------

def test_every_constant_has_one_control_in_the_group_of_its_view(base):
    controls = controls_for(base)
    assert [c.name for c in controls] == list(model_info(MODEL).constants)
    groups = grouped(controls)
    # the model's own views, in file order (the `***` headers of iran_russia.mdl)
    headers = re.findall(r"^\*+\n\t\.(.+)\n\*+~", MODEL.read_text(encoding="utf-8"), re.MULTILINE)
    assert list(groups) == [h for h in headers if h in groups] and len(groups) >= 6
    by_name = {c.name: c for c in controls}
    assert by_name["war end year"].group == "Event dates"
    assert by_name["strategic threshold"].group == "Indicators"
    text = MODEL.read_text(encoding="utf-8")
    starts = {h: text.index(f"\t.{h}\n") for h in headers}
    ends = dict(zip(headers, [*list(starts.values())[1:], len(text)]))
    for control in controls:  # each is defined between its group's header and the next one
        at = re.search(rf"^{re.escape(control.name)}\s*=", text, re.MULTILINE).start()
        assert starts[control.group] < at < ends[control.group], control.name


def test_controls_carry_range_units_source_and_the_scenarios_value(base):
    war_end = next(c for c in controls_for(base.with_overrides({"war end year": 2030})) if c.name == "war end year")
    var = model_info(MODEL).constants["war end year"]
    assert (war_end.low, war_end.high, war_end.units, war_end.comment) == (var.low, var.high, var.units, var.comment)
    assert war_end.start == 2030 and war_end.date and war_end.step == 0.25  # a year slider by the saving period
    rate = next(c for c in controls_for(base) if c.name == "escalation rate")
    assert not rate.date and rate.low <= rate.start <= rate.high


def test_time_series_constants_are_marked(base):
    pressure = load_scenario(SCENARIOS / "maximum_pressure.yaml")
    marked = [c for c in controls_for(pressure) if c.series]
    assert {c.name for c in marked} == set(pressure.series)
    assert all(c.label.endswith("(series)") for c in marked)


def test_groups_of_a_file_without_views_and_of_xmile(tmp_path):
    plain = tmp_path / "plain.mdl"
    plain.write_text("a = 1\n~ Dmnl [0, 2]\n~ doc\n|\n\\\\\\---/// Sketch\n", encoding="utf-8")
    assert model_groups(plain) == {}
    assert model_groups(tmp_path / "m.xmile") == {}


@pytest.mark.parametrize("low, high, step", [(0, 1, 0.01), (2010, 2100, 1), (300, 3000, 50), (0, 0.25, 0.005)])
def test_slider_steps_are_round(low, high, step):
    assert nice_step(low, high) == pytest.approx(step)


# --- settings: checked as `defdip run --set` checks them ----------------------------------------------

def in_page_words(message: str) -> str:
    """The CLI's message as the page words it: the page has no `--set` option, it has settings."""
    assert message.startswith("--set ")
    return "setting " + message.removeprefix("--set ")


@pytest.mark.parametrize("typed", ["2200", "abc", "nan", "2009"])
def test_a_refused_value_gives_the_clis_message_and_changes_nothing(base, capsys, typed):
    settings = Settings(base)
    with pytest.raises(InputError) as refused:
        settings.set("war end year", typed)
    assert str(refused.value) == in_page_words(cli_error(capsys, "--set", f"war end year={typed}", "-o", "unused"))
    assert dict(settings.changed) == {} and settings.scenario is base


def test_settings_keep_only_changes_and_reset(base):
    settings = Settings(base)
    assert settings.set("War End Year", "2025") == 2025.0  # names as the loader forgives them
    settings.set("escalation rate", 3.0)
    assert dict(settings.changed) == {"war end year": 2025.0, "escalation rate": 3.0}
    assert settings.scenario.constants["war end year"] == 2025.0
    settings.set("escalation rate", model_info(MODEL).constants["escalation rate"].value)  # back at its start
    assert "escalation rate" not in settings.changed
    settings.reset("war end year")
    assert dict(settings.changed) == {} and settings.scenario.constants == base.constants
    settings.set("war end year", 2030)
    settings.reset()
    assert dict(settings.changed) == {}


def test_ending_the_war_in_2025_removes_the_transition(base):
    settings = Settings(base)
    assert run_once(settings.scenario).transition is not None
    settings.set("war end year", 2025)
    run = run_once(settings.scenario)
    assert run.transition is None and key_numbers(run)["transition year"] is None


# --- band and overlays -------------------------------------------------------------------------------

def test_band_spans_the_run_and_follows_the_settings(base):
    run = run_once(base)
    band = uncertainty_band(base, runs=40)
    assert band.runs == 40 and set(band.constants) == set(base.uncertainties)
    low, mid, high = band.percentiles["Strategic Partnership Index"]
    assert np.all(low <= mid) and np.all(mid <= high) and np.any(high - low > 0.01)
    assert np.array_equal(band.time, run.time)
    # a constant the band does not sample (war end year is one of the uncertainties, so it is drawn)
    moved = uncertainty_band(base.with_overrides({"war start year": 2100}), runs=40)
    assert not np.allclose(moved.percentiles["Reciprocity"], band.percentiles["Reciprocity"])


def test_overlay_of_a_shipped_scenario_a_file_and_a_result_folder(tmp_path):
    assert load_overlay("no_war").label == "no_war"
    assert load_overlay(str(ALLIANCE)).transition is not None
    assert load_overlay(str(SCENARIOS / "ceasefire_2027.yaml")).transition is None
    assert main(["run", str(SCENARIOS / "no_war.yaml"), "-o", str(tmp_path), "--engine", "ensemble"]) == 0
    folder = load_overlay(str(tmp_path / "no_war"))
    assert folder.label == "no_war" and folder.summary == load_overlay("no_war").summary


@pytest.mark.parametrize("text, content, message", [
    ("missing.yaml", None, "no such file or folder"),
    ("bad.yaml", "name: x\nconstants: {war end year: 1}\n", "is outside the declared range"),
    ("dup.yaml", "name: x\nname: y\n", "duplicate key"),
    ("folder", "", "not a result folder"),
])
def test_a_bad_overlay_is_refused_with_the_loaders_message(tmp_path, monkeypatch, text, content, message):
    monkeypatch.chdir(tmp_path)
    if content is not None and text.endswith(".yaml"):
        (tmp_path / text).write_text(content, encoding="utf-8")
    elif content is not None:
        (tmp_path / text).mkdir()
    with pytest.raises(InputError, match=message):
        load_overlay(text)


# --- saving -----------------------------------------------------------------------------------------

def test_saved_scenario_extends_the_start_and_holds_only_changes(base, tmp_path):
    settings = Settings(base)
    settings.set("war end year", 2025)
    settings.set("escalation rate", 2.5)
    path, loaded = save_scenario(settings, tmp_path, "my run")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert path == tmp_path / "my run.yaml"
    assert (tmp_path / raw["extends"]).resolve() == base.source
    assert raw["constants"] == {"war end year": 2025, "escalation rate": 2.5}
    again = load_scenario(path)
    assert dict(again.constants) == dict(settings.scenario.constants) == dict(loaded.constants)
    assert again.uncertainties == base.uncertainties
    assert [p.name for p in tmp_path.iterdir()] == ["my run.yaml"]  # no temporary left


def test_saving_never_overwrites_unless_told_and_never_leaves_the_folder(base, tmp_path):
    settings = Settings(base)
    path, _ = save_scenario(settings, tmp_path, "kept")
    before = path.read_bytes()
    settings.set("war end year", 2030)
    with pytest.raises(InputError, match="already exists"):
        save_scenario(settings, tmp_path, "kept.yaml")
    assert path.read_bytes() == before
    save_scenario(settings, tmp_path, "kept", overwrite=True)
    assert "2030" in path.read_text(encoding="utf-8")
    for name in ("../out", "/etc/x", "a/b", "..", ".hidden", "", "a\\b"):
        with pytest.raises(InputError, match="not a file name"):
            target_file(tmp_path, name, ".yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.yaml"]


def test_a_scenario_from_a_bare_model_is_saved_with_its_model(tmp_path):
    from defdip.core.scenario import scenario_from_model

    settings = Settings(scenario_from_model(MODEL))
    settings.set("war end year", 2026)
    raw = yaml.safe_load(scenario_text(settings, tmp_path / "x.yaml"))
    assert "extends" not in raw and (tmp_path / raw["model"]).resolve() == MODEL.resolve()
    _, loaded = save_scenario(settings, tmp_path, "x")
    assert loaded.constants["war end year"] == 2026


def test_figure_saved_as_png_and_svg(base, tmp_path):
    paths = save_figure_files(run_once(base), base, tmp_path, "fig")
    assert [p.name for p in paths] == ["fig.png", "fig.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in paths[1].read_bytes()[:2000]
    assert b"Partnership indices" in paths[1].read_bytes()  # the run figure's panels
    with pytest.raises(InputError, match="already exists"):
        save_figure_files(run_once(base), base, tmp_path, "fig")


# --- the command and the page's callbacks, no server ---------------------------------------------------

def test_command_without_panel_exits_2_naming_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "panel", None)  # `import panel` now fails as if not installed
    monkeypatch.delitem(sys.modules, "defdip.io.explore_app", raising=False)
    assert main(["explore", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "optional extra 'explore'" in err and "pip install 'defdip[explore]'" in err


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "--port: 70000 is not a TCP port"),
    (["--band-runs", "0"], "--band-runs: needs at least 1"),
    (["missing.yaml"], "missing.yaml"),
    (["--model", str(ROOT / "tests" / "models" / "golden" / "vector_select" / "test_vector_select.mdl")],
     "VECTOR_SELECT over dim1!, dim2! is not supported by the ensemble engine; explore needs that engine; "
     "`defdip run --engine pysd` runs the model"),
])
def test_command_refuses_bad_options(capsys, args, message):
    assert main(["explore", "--no-browser", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def page(base, tmp_path):
    pytest.importorskip("panel")
    from defdip.io.explore_app import ExploreConfig, ExplorerPage

    explorer = ExplorerPage(ExploreConfig(base, tmp_path, band_runs=20, dominance=False))
    explorer.layout()
    yield explorer
    explorer.close()


def test_page_typed_value_reruns_and_refuses_out_of_range(page, capsys):
    war_end = page.widgets["war end year"]
    war_end.text.value = "2025"
    assert page.run.transition is None and "id='transition-text'>none<" in page.keys.object
    assert war_end.slider.value == 2025
    war_end.text.value = "2200"
    expected = in_page_words(cli_error(capsys, "--set", "war end year=2200", "-o", "unused"))
    assert expected.replace("'", "&#x27;") in page.message.object
    assert war_end.text.value == "2025" and page.settings.changed["war end year"] == 2025  # unchanged
    war_end.reset.clicks += 1
    assert page.run.transition is not None and war_end.text.value == "2100"


def test_page_save_refusals_replace_the_last_message_and_leave_no_file(page, tmp_path, monkeypatch):
    page.save_yaml.clicks += 1  # the default name: saved
    assert "saved" in page.message.object and len(list(tmp_path.glob("*.yaml"))) == 1
    page.save_name.value = "x" * 300  # longer than a file name can be (item 13)
    page.save_yaml.clicks += 1
    assert "300 characters long; use at most 120" in page.message.object and "saved" not in page.message.object
    page.save_fig.clicks += 1
    assert "300 characters long" in page.message.object
    page.save_name.value = "fine"

    def disk_full(*args, dir=None, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dir))

    monkeypatch.setattr("defdip.io.folders.tempfile.mkstemp", disk_full)
    page.save_yaml.clicks += 1  # a full disk: one line in the page, not a traceback in the log
    assert f"{tmp_path}: No space left on device; nothing was saved" in page.message.object
    assert [p.name for p in tmp_path.iterdir()] == [f"{page.settings.base.name}_explored.yaml"]


def test_page_groups_open_lazily_and_keep_changes(page):
    assert "war end year" in page.widgets and "escalation rate" not in page.widgets
    page.settings.set("escalation rate", 2.0)
    group = next(g for g, items in page.groups.items() if any(c.name == "escalation rate" for c in items))
    page._on_open(group, page.layout_cards[group], type("E", (), {"new": False})())
    assert page.widgets["escalation rate"].slider.value == 2.0


def test_page_pin_and_difference(page):
    page._on_pin()
    page.widgets["war end year"].slider.value = 2025
    page.tabs.active = 1
    diff = page.differences.source.data["Reciprocity"]
    assert np.nanmax(np.abs(diff)) > 0.1
    assert "<th>pinned</th>" in page.keys.object


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_page_runs_in_a_worker_process_as_in_this_one(base, tmp_path, monkeypatch, method):
    """The server's worker pool gives the runs and the band that this process computes itself,
    forked (Linux) or spawned (macOS, Windows: everything it is sent must pickle)."""
    pytest.importorskip("panel")
    import multiprocessing

    from defdip.io import explore_workers
    from defdip.io.explore_app import ExploreConfig, ExplorerPage

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    monkeypatch.setattr(explore_workers, "worker_context", lambda: multiprocessing.get_context(method))
    pool = explore_workers.worker_pool(base)
    assert pool is not None
    try:
        explorer = ExplorerPage(ExploreConfig(base, tmp_path, band_runs=20, dominance=False, pool=pool))
        explorer.layout()
        explorer.settings.set("war end year", 2025)
        explorer._rerun()
        here = run_once(explorer.settings.scenario)
        assert explorer.run.transition is None and explorer.run.summary == here.summary
        for name, values in here.data.items():
            np.testing.assert_array_equal(explorer.run.data[name], values, err_msg=name)
        band = explorer._compute(uncertainty_band, explorer.settings.scenario, 20, 0)
        ours = uncertainty_band(explorer.settings.scenario, 20, 0)
        for name, values in ours.percentiles.items():
            np.testing.assert_array_equal(band.percentiles[name], values, err_msg=name)
        explorer.close()
    finally:
        pool.shutdown()


def test_sliders_reach_the_server_without_panels_debounce():
    """Panel holds a browser change for 50 ms unless it is a priority change; the slider's value is one.

    `_priority_changes` is Panel's (Tabulator uses it): if Panel stops reading it, this fails.
    """
    pn = pytest.importorskip("panel")
    import inspect

    from defdip.io.explore_app import LiveSlider

    assert LiveSlider._priority_changes == ["value"]
    assert "self._priority_changes" in inspect.getsource(pn.reactive.Syncable._server_change)


def start_server_with_workers(tmp_path):
    """`defdip explore` in a child process; returns it and its worker processes' ids (from /proc)."""
    import subprocess
    import time
    from pathlib import Path

    proc = subprocess.Popen([sys.executable, "-m", "defdip.cli.main", "explore", str(ALLIANCE), "--no-browser",
                             "--port", "0", "--save-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "http://" in line:
            break
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 30
    while proc.poll() is None and not children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc, [int(pid) for pid in children.read_text().split()]


def alive(pids, within: float) -> list[int]:
    """The processes among ``pids`` still running (not zombies) after waiting up to ``within`` s."""
    import time
    from pathlib import Path

    def running(pid):
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + within
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if running(pid)]


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads child processes from /proc")


@linux_only
def test_a_terminated_server_stops_its_worker_processes(tmp_path):
    pytest.importorskip("panel")
    proc, workers = start_server_with_workers(tmp_path)
    try:
        assert workers, "the server started no worker process"
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        assert not alive(workers, within=10)
    finally:
        if proc.poll() is None:
            proc.kill()


@linux_only
def test_the_workers_of_a_killed_server_end_by_themselves(tmp_path):
    pytest.importorskip("panel")
    import os
    import signal

    proc, workers = start_server_with_workers(tmp_path)
    assert workers, "the server started no worker process"
    proc.kill()
    proc.wait(timeout=30)
    left = alive(workers, within=10)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "a worker outlived its killed server"


def test_a_page_whose_worker_died_goes_on_in_its_own_process(base, tmp_path):
    pytest.importorskip("panel")
    from concurrent.futures.process import BrokenProcessPool

    from defdip.io.explore_app import ExploreConfig, ExplorerPage

    class DeadPool:
        def submit(self, *args):
            raise BrokenProcessPool("a worker died")

    explorer = ExplorerPage(ExploreConfig(base, tmp_path, band_runs=20, dominance=False, pool=DeadPool()))
    explorer.layout()
    explorer.widgets["war end year"].text.value = "2025"
    assert explorer.run.transition is None
    assert explorer.run.summary == run_once(explorer.settings.scenario).summary
    explorer.close()


def test_a_model_without_declared_ranges_gets_sliders_from_zero_to_twice_the_value(tmp_path):
    """Any Vensim model can be explored: a constant without ``[low, high]`` still gets a slider."""
    pytest.importorskip("panel")
    from defdip.core.scenario import scenario_from_model
    from defdip.io.explore_app import ExploreConfig, ExplorerPage

    model = ROOT / "tests" / "models" / "golden" / "abs" / "test_abs.mdl"
    scenario = scenario_from_model(model)
    (flow,) = controls_for(scenario)
    assert not flow.declared and flow.span == (0.0, 2 * flow.start) and flow.step == nice_step(*flow.span)
    explorer = ExplorerPage(ExploreConfig(scenario, tmp_path, band_runs=8, dominance=False))
    explorer.layout()
    widgets = explorer.widgets[flow.name]
    assert (widgets.slider.start, widgets.slider.end) == flow.span and "declares no range" in widgets.text.description
    widgets.text.value = "7.5"  # beyond the slider: accepted, as the loader accepts it, and the slider widens
    assert explorer.settings.changed[flow.name] == 7.5 and widgets.slider.end == 7.5
    assert explorer.run.data[flow.name][0] == 7.5
    explorer.close()


@pytest.mark.parametrize("value, span", [(3.0, (0.0, 6.0)), (-2.0, (-4.0, 0.0)), (0.0, (0.0, 1.0)),
                                         (float("nan"), (0.0, 1.0))])
def test_default_span_reaches_twice_the_value_from_zero(value, span):
    from defdip.io.explore_state import default_span

    assert default_span(value) == span


def test_nothing_is_sent_once_the_tabs_connection_has_closed(base, tmp_path):
    """Bokeh destroys a session a while after its tab closes; a late band is dropped meanwhile."""
    pytest.importorskip("panel")
    from types import SimpleNamespace

    from defdip.io.explore_app import ExploreConfig, ExplorerPage

    explorer = ExplorerPage(ExploreConfig(base, tmp_path, band_runs=8, dominance=False))
    explorer.layout()
    session = SimpleNamespace(connection_count=0)
    ran = []
    explorer.doc = SimpleNamespace(session_context=SimpleNamespace(session=session),
                                   add_next_tick_callback=lambda callback: callback())
    explorer._locked(ran.append, "before the browser connects")  # the first band may come before it
    session.connection_count = 1
    explorer._locked(ran.append, "while it is connected")
    session.connection_count = 0
    explorer._locked(ran.append, "after the tab closed")
    assert ran == ["before the browser connects", "while it is connected"] and explorer.closed
    explorer.close()


# --- subscripted models: a control per element, a line per element ------------------------------------

BASS_REGIONS = ROOT / "tests" / "models" / "ltm" / "bass_regions.mdl"
ARRAYS_2D = ROOT / "tests" / "models" / "golden" / "subscript_2d_arrays" / "test_subscript_2d_arrays.mdl"


@pytest.fixture(scope="module")
def regions():
    from defdip.core.scenario import scenario_from_model

    return scenario_from_model(BASS_REGIONS)


def test_a_subscripted_constant_gives_a_control_per_element_under_its_name(regions):
    info = model_info(BASS_REGIONS)
    controls = controls_for(regions)
    contact = info.constants["contact rate"]
    elements = [c for c in controls if c.array == "contact rate"]
    assert [c.name for c in elements] == list(contact.elements) == [f"contact rate[r{i}]" for i in (1, 2, 3)]
    for control in elements:  # each element has the constant's declared range, units, group and documentation
        assert (control.low, control.high, control.units, control.start) == (contact.low, contact.high,
                                                                             contact.units, 10.0)
        assert control.group == "Other constants" and not control.declared and control.span == (0.0, 20.0)
    (fraction,) = [c for c in controls if c.name == "adoption fraction"]
    assert fraction.array == "" and (fraction.low, fraction.high) == (0, 1)  # a scalar stays one control
    assert len(controls) == 1 + 3 * 3
    # the array's consecutive controls are what the page puts under one sub-heading
    assert [c.array for c in grouped(controls)["Other constants"]][:4] == ["contact rate"] * 3 + [""]
    # an element's own setting wins over its array's, as on the engines
    set_both = controls_for(regions.with_overrides({"contact rate": 12, "contact rate[r3]": 4}))
    assert [c.start for c in set_both if c.array == "contact rate"] == [12, 12, 4]


def test_each_element_of_a_two_dimensional_constant_starts_at_its_own_number():
    from defdip.core.scenario import scenario_from_model

    controls = controls_for(scenario_from_model(ARRAYS_2D))
    values = {c.name: c.start for c in controls if c.array == "Initial Values"}
    assert values == dict(zip(model_info(ARRAYS_2D).constants["Initial Values"].elements, [1, 2, 3, 4, 5, 6]))
    assert len(controls) == 12 and {c.array for c in controls} == {"Initial Values", "Rate A"}


def test_an_elements_setting_is_checked_as_run_set_checks_it(regions, capsys):
    settings = Settings(regions)
    assert settings.set("Contact Rate[R2]", "5") == 5.0  # names as the loader forgives them
    assert dict(settings.changed) == {"contact rate[r2]": 5.0}
    assert settings.scenario.constants == {"contact rate[r2]": 5.0}
    settings.set("contact rate[r2]", 10)  # back at the model's number: no longer a change
    assert dict(settings.changed) == {}
    with pytest.raises(InputError) as refused:
        settings.set("contact rate[r2]", -1)
    assert str(refused.value) == in_page_words(cli_error(capsys, "--model", str(BASS_REGIONS), "--set",
                                                         "contact rate[r2]=-1", "-o", "unused"))
    with pytest.raises(InputError, match="no such element"):
        settings.set("contact rate[r9]", 1)


def columns_of(name: str) -> list[str]:
    return list(model_info(BASS_REGIONS).variables[name].columns)


def test_moving_one_element_changes_only_its_lines_and_matches_simulate(regions, tmp_path):
    pytest.importorskip("panel")
    from defdip.engines.simulate import simulate
    from defdip.io.explore_app import ExploreConfig, ExplorerPage

    explorer = ExplorerPage(ExploreConfig(regions, tmp_path, band_runs=8, dominance=False))
    explorer.layout()
    adopters = columns_of("Adopters")
    # one panel per variable, a line (and legend item) per element
    panel = dict(explorer.charts.panels)
    assert panel["Adopters"] == tuple(adopters) and panel["Potential Adopters"] == tuple(columns_of("Potential Adopters"))
    figure = explorer.charts.figures[list(panel).index("Adopters")]
    assert [i.label.value for i in figure.right[0].items] == adopters
    before = dict(explorer.run.data)
    explorer._on_pin()
    explorer.widgets["contact rate[r2]"].slider.value = 5
    assert dict(explorer.settings.changed) == {"contact rate[r2]": 5.0}
    reference = simulate(regions.with_overrides({"contact rate[r2]": 5}), engine="ensemble").trajectories
    for name in reference.columns:  # the page's run is the engine's run of that scenario
        np.testing.assert_array_equal(explorer.run.data[name], reference[name].to_numpy(float), err_msg=name)
    for name, values in explorer.run.data.items():  # only region r2 moved
        moved = not np.array_equal(values, before[name])
        assert moved == (name.endswith("[r2]") and not name.startswith(("total market", "initial adopters"))), name
    np.testing.assert_array_equal(explorer.charts.current.data["Adopters[r2]"], reference["Adopters[r2]"])
    np.testing.assert_array_equal(explorer.charts.pinned.data["Adopters[r2]"], before["Adopters[r2]"])
    # the key numbers: each charted element at the last saved time, current and pinned
    assert "data-key='Adopters[r2]@20'" in explorer.keys.object and "<th>pinned</th>" in explorer.keys.object
    numbers = key_numbers(explorer.run, explorer.final)
    assert numbers["Adopters[r2]@20"] == reference["Adopters[r2]"].iloc[-1] != numbers["Adopters[r1]@20"]
    assert not any(k.startswith("contact rate") for k in numbers)  # constants are not key numbers
    explorer.tabs.active = 1
    assert np.nanmax(np.abs(explorer.differences.source.data["Adopters[r2]"])) > 1
    assert np.nanmax(np.abs(explorer.differences.source.data["Adopters[r1]"])) == 0
    explorer.close()


def test_the_band_of_a_subscripted_model_has_every_charted_element(regions):
    run = run_once(regions)
    band = uncertainty_band(regions, runs=20)
    assert band.constants == ("adoption fraction",)  # the one constant with a declared range
    for name in columns_of("Adopters") + columns_of("Potential Adopters"):
        low, mid, high = band.percentiles[name]
        assert np.all(low <= mid) and np.all(mid <= high) and np.any(high - low > 1), name
    np.testing.assert_array_equal(band.time, run.time)
    np.testing.assert_array_equal(band.percentiles["Adopters[r1]"], band.percentiles["Adopters[r3]"])


def test_the_projects_page_charts_and_bands_what_it_did_before(base):
    """The key indicators' panels, and the band over exactly their variables."""
    from defdip.core.case import FAN_VARIABLES, PANELS
    from defdip.figures.plotting import trajectory_panels
    from defdip.io.explore_state import chart_panels

    assert chart_panels(base) == trajectory_panels(run_once(base).data, base.outputs)
    before = {n for n in (*FAN_VARIABLES, *(n for _, names in PANELS for n in names))
              if n in model_info(MODEL).variables}
    assert set(uncertainty_band(base, runs=8).percentiles) == before


def test_a_saved_element_setting_round_trips_and_runs(regions, tmp_path):
    settings = Settings(regions)
    settings.set("contact rate[r2]", 5)
    settings.set("initial adopters[r1]", 20)
    path, loaded = save_scenario(settings, tmp_path, "regions")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw["constants"] == {"contact rate[r2]": 5, "initial adopters[r1]": 20}
    assert (tmp_path / raw["model"]).resolve() == BASS_REGIONS.resolve()
    assert dict(load_scenario(path).constants) == dict(loaded.constants) == dict(settings.scenario.constants)
    again = Settings(load_scenario(path))  # explored again, the sliders start where they were left
    assert {c.name: c.start for c in controls_for(again.base) if c.name.endswith("[r2]")}["contact rate[r2]"] == 5
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out)]) == 0  # PySD, the reference engine
    import pandas as pd

    frame = pd.read_csv(out / "regions" / "trajectories.csv", index_col="time")
    here = run_once(settings.scenario)
    for name in columns_of("Adopters"):
        np.testing.assert_allclose(frame[name].to_numpy(), here.data[name], rtol=1e-9, err_msg=name)
    assert not np.allclose(frame["Adopters[r2]"], frame["Adopters[r3]"])


def test_the_figure_of_a_subscripted_run_has_a_panel_per_variable(regions, tmp_path):
    paths = save_figure_files(run_once(regions), regions, tmp_path, "fig")
    svg = paths[1].read_text(encoding="utf-8")
    assert all(f"Adopters[r{i}]" in svg for i in (1, 2, 3)) and "Potential Adopters[r2]" in svg
