"""Scenario files: valid files parse, invalid ones are refused naming file and key."""
from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL, load_model
from defdip.core.scenario import (
    DEFAULT_OUTPUTS,
    Scenario,
    TimeSettings,
    Uncertainty,
    load_scenario,
    scenario_from_model,
)

TEACUP = Path(__file__).resolve().parent / "models" / "golden" / "teacup" / "teacup.mdl"
needs_teacup = pytest.mark.skipif(not TEACUP.is_file(), reason="shared teacup model not present")


def write(directory: Path, name: str, text: str) -> Path:
    """Write a dedented scenario file and return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# --- valid files ------------------------------------------------------------------------------

FULL = """
name: protracted_war
description: The war goes on at high intensity until 2030, then slowly winds down.
model: MODEL_PATH
time: {start: 2010, end: 2035, dt: 0.0625, saveper: 0.25}
constants:
  war end year: 2030
series:
  western pressure multiplier: [[2010, 1.0], [2026, 1.3]]
uncertainties:
  escalation rate: {dist: uniform, low: 0.5, high: 5}
  trust erosion time: {dist: triangular, low: 0.5, mode: 1, high: 2}
outputs: [Cooperation Depth, Reciprocity, strategic commitment, Partnership Phase]
"""


def check_full(s: Scenario) -> None:
    assert s.name == "protracted_war"
    assert s.description.startswith("The war goes on")
    assert s.model == DEFAULT_MODEL.resolve()
    assert s.time == TimeSettings(2010, 2035, 0.0625, 0.25)
    assert dict(s.constants) == {"war end year": 2030.0}
    assert s.series["western pressure multiplier"] == ((2010.0, 1.0), (2026.0, 1.3))
    assert s.uncertainties["escalation rate"] == Uncertainty("escalation rate", "uniform", 0.5, 5.0)
    assert s.uncertainties["trust erosion time"].mode == 1.0
    # as listed, each resolved to the model's spelling
    assert s.outputs == ("Cooperation Depth", "Reciprocity", "Strategic Commitment", "Partnership Phase")


def check_minimal(s: Scenario) -> None:
    assert s.name == "scenario"  # the file's stem
    assert s.description == ""
    assert s.model == DEFAULT_MODEL.resolve()
    assert (s.time.start, s.time.end) == (2010.0, 2035.0)
    assert not s.constants and not s.series and not s.uncertainties
    assert s.outputs == DEFAULT_OUTPUTS


VALID = [
    pytest.param(FULL, check_full, id="interface-example"),
    pytest.param("{}\n", check_minimal, id="empty-mapping"),
    pytest.param("constants:\nseries:\nuncertainties:\ntime:\n", check_minimal, id="empty-sections"),
    pytest.param("constants: {War  END year: 2030}\n",
                 lambda s: dict(s.constants) == {"war end year": 2030.0} or pytest.fail(),
                 id="name-case-and-spacing-forgiven"),
    pytest.param("constants: {escalation rate: 2e0}\n",
                 lambda s: s.constants["escalation rate"] == 2.0 or pytest.fail(),
                 id="exponent-without-dot-is-a-number"),
    pytest.param("constants: {war end year: 2100}\n",
                 lambda s: s.constants["war end year"] == 2100.0 or pytest.fail(),
                 id="value-on-declared-bound"),
    pytest.param("series: {western pressure multiplier: [[2022, 1.5]]}\n",
                 lambda s: s.series["western pressure multiplier"] == ((2022.0, 1.5),) or pytest.fail(),
                 id="one-point-series"),
    pytest.param("time: {end: 2030, dt: 0.125, saveper: 0.125}\n",
                 lambda s: s.time == TimeSettings(2010, 2030, 0.125, 0.125) or pytest.fail(),
                 id="time-partly-given"),
    pytest.param("outputs: [mutual trust]\n",
                 lambda s: s.outputs == ("Mutual Trust",) or pytest.fail(), id="outputs-any-kind"),
    pytest.param("outputs: []\n", lambda s: s.outputs == () or pytest.fail(), id="outputs-empty"),
    pytest.param("uncertainties: {escalation rate: {dist: loguniform, low: 0.5, high: 8}}\n",
                 lambda s: s.uncertainties["escalation rate"].dist == "loguniform" or pytest.fail(),
                 id="loguniform"),
]


@pytest.mark.parametrize(("text", "check"), VALID)
def test_valid_file(tmp_path, text, check):
    path = write(tmp_path, "scenario.yaml", text.replace("MODEL_PATH", str(DEFAULT_MODEL)))
    scenario = load_scenario(path)
    check(scenario)
    assert scenario.source == path.resolve()


# --- invalid files ----------------------------------------------------------------------------

INVALID = [
    # structure and YAML
    pytest.param("- a\n- b\n", "top level", id="top-level-list"),
    pytest.param("", "top level", id="empty-file"),
    pytest.param("constants: {war end year: 2030\n", "bad.yaml:", id="yaml-syntax"),
    pytest.param("constants:\n  war end year: 2030\n  war end year: 2031\n", "bad.yaml:3",
                 id="yaml-duplicate-key-with-line"),
    pytest.param("constnats: {war end year: 2030}\n", "constnats: unknown key; did you mean 'constants'",
                 id="unknown-top-key"),
    pytest.param("time: {stat: 2010}\n", "time.stat: unknown key; did you mean 'start'",
                 id="unknown-time-key"),
    pytest.param("uncertainties: {escalation rate: {dist: uniform, low: 1, hi: 2}}\n",
                 "uncertainties.escalation rate.hi: unknown key", id="unknown-uncertainty-key"),
    pytest.param("constants: [war end year]\n", "constants: expected a mapping", id="constants-not-mapping"),
    pytest.param("time: 2010\n", "time: expected a mapping", id="time-not-mapping"),
    pytest.param("extends: [base.yaml]\n", "extends: expected a string", id="extends-not-string"),
    pytest.param("extends: nowhere.yaml\n", "extends: file not found", id="extends-missing"),
    pytest.param("model: nowhere.mdl\n", "model: model file not found", id="model-missing"),
    pytest.param("model: bad.yaml\n", "must be a Vensim or XMILE file (.mdl, .xmile", id="model-not-mdl"),
    # names
    pytest.param("constants: {war start yaer: 2022}\n",
                 "constants.war start yaer: unknown variable 'war start yaer'; did you mean 'war start year'",
                 id="misspelt-constant"),
    pytest.param("constants: {Mutual Trust: 0.5}\n", "constants.Mutual Trust: 'Mutual Trust' is a stock; "
                 "only constants can be set", id="stock-as-constant"),
    pytest.param("series: {war ongoing: [[2010, 1]]}\n", "series.war ongoing: 'war ongoing' is an auxiliary; "
                 "only constants can be set", id="auxiliary-as-series"),
    pytest.param("uncertainties: {Mutual Trust: {dist: uniform, low: 0, high: 1}}\n",
                 "uncertainties.Mutual Trust: 'Mutual Trust' is a stock", id="stock-as-uncertainty"),
    pytest.param("constants: {TIME STEP: 0.125}\n", "constants.TIME STEP: 'TIME STEP' is a control",
                 id="control-as-constant"),
    pytest.param("constants: {war end year: 2030, War End  Year: 2031}\n", "given twice",
                 id="same-constant-twice"),
    pytest.param("constants: {war end year: 2030}\nseries: {war end year: [[2010, 2030]]}\n",
                 "series.war end year: 'war end year' is also under constants", id="constant-and-series"),
    pytest.param("outputs: [Cooperation Dept]\n",
                 "outputs.Cooperation Dept: unknown variable 'Cooperation Dept'; "
                 "did you mean 'Cooperation Depth'",
                 id="unknown-output"),
    pytest.param("outputs: [Reciprocity, reciprocity]\n",
                 "outputs.reciprocity: 'Reciprocity' is listed twice",
                 id="duplicate-output"),
    # types
    pytest.param("name: 3\n", "name: expected a string", id="name-not-string"),
    pytest.param("name: ../escape\n", "name: '../escape' cannot name a folder", id="name-with-slash"),
    pytest.param("description: [a, b]\n", "description: expected a string", id="description-not-string"),
    pytest.param("outputs: Reciprocity\n", "outputs: expected a list", id="outputs-not-list"),
    pytest.param("outputs: [Reciprocity, 3]\n", "outputs: expected a list", id="outputs-not-strings"),
    pytest.param("constants: {war end year: true}\n", "constants.war end year: expected a number, got bool",
                 id="bool-value"),
    pytest.param("constants: {war end year: '2030'}\n", "constants.war end year: expected a number, got str",
                 id="string-value"),
    pytest.param("constants: {war end year: .nan}\n", "constants.war end year: expected a finite number",
                 id="nan-value"),
    pytest.param("constants: {war end year: }\n", "constants.war end year: expected a number, got nothing",
                 id="missing-value"),
    pytest.param("time: {start: soon}\n", "time.start: expected a number", id="time-not-number"),
    # ranges
    pytest.param("constants: {war end year: 3000}\n",
                 "constants.war end year: 3000 is outside the declared range of 'war end year'; allowed: [",
                 id="constant-above-range"),
    pytest.param("constants: {escalation rate: -1}\n", "constants.escalation rate: -1 is outside",
                 id="constant-below-range"),
    pytest.param("series: {western pressure multiplier: [[2010, 1.0], [2020, -1]]}\n",
                 "series.western pressure multiplier[1] value: -1 is outside",
                 id="series-value-out-of-range"),
    pytest.param("uncertainties: {escalation rate: {dist: uniform, low: -1, high: 2}}\n",
                 "uncertainties.escalation rate.low: -1 is outside", id="uncertainty-low-out-of-range"),
    # time
    pytest.param("time: {start: 2035, end: 2010}\n", "time.end: end (2010) must be after start (2035)",
                 id="end-before-start"),
    pytest.param("time: {start: 2010, end: 2010}\n", "time.end", id="end-equals-start"),
    pytest.param("time: {dt: 0}\n", "time.dt: dt must be positive", id="dt-zero"),
    pytest.param("time: {dt: -0.25}\n", "time.dt: dt must be positive", id="dt-negative"),
    pytest.param("time: {dt: 0.3}\n", "time.dt: dt (0.3) must divide the horizon", id="dt-not-dividing"),
    pytest.param("time: {dt: 0.0625, saveper: 0.1}\n", "time.saveper: saveper (0.1) must be a positive whole "
                 "multiple of dt", id="saveper-not-multiple"),
    pytest.param("time: {dt: 0.0625, saveper: -0.25}\n", "time.saveper", id="saveper-negative"),
    pytest.param("time: {dt: 0.25, saveper: 0.125}\n", "time.saveper", id="saveper-below-dt"),
    # series
    pytest.param("series: {western pressure multiplier: []}\n",
                 "series.western pressure multiplier: expected a list of [year, value] pairs",
                 id="series-empty"),
    pytest.param("series: {western pressure multiplier: 1.2}\n",
                 "series.western pressure multiplier: expected a list", id="series-not-list"),
    pytest.param("series: {western pressure multiplier: [[2010, 1.0, 2.0]]}\n",
                 "series.western pressure multiplier[0]: expected a [year, value] pair", id="series-triple"),
    pytest.param("series: {western pressure multiplier: [[2020, 1.0], [2010, 1.2]]}\n",
                 "series.western pressure multiplier[1]: years must be strictly increasing",
                 id="series-decreasing"),
    pytest.param("series: {western pressure multiplier: [[2020, 1.0], [2020, 1.2]]}\n",
                 "series.western pressure multiplier[1]: years must be strictly increasing",
                 id="series-repeated-year"),
    pytest.param("series: {western pressure multiplier: [[x, 1.0]]}\n",
                 "series.western pressure multiplier[0] year: expected a number",
                 id="series-year-not-number"),
    # uncertainties
    pytest.param("uncertainties: {escalation rate: {dist: uniform, low: 2, high: 1}}\n",
                 "uncertainties.escalation rate.low: low (2) must not exceed high (1)", id="low-above-high"),
    pytest.param("uncertainties: {escalation rate: {dist: normal, low: 1, high: 2}}\n",
                 "uncertainties.escalation rate.dist: unknown distribution 'normal'; allowed: uniform, "
                 "triangular, loguniform", id="unknown-dist"),
    pytest.param("uncertainties: {escalation rate: {dist: triangular, low: 1, high: 2}}\n",
                 "uncertainties.escalation rate.mode: a triangular distribution needs a mode",
                 id="triangular-without-mode"),
    pytest.param("uncertainties: {escalation rate: {dist: triangular, low: 1, mode: 3, high: 2}}\n",
                 "uncertainties.escalation rate.mode: mode (3) must lie within", id="mode-outside"),
    pytest.param("uncertainties: {escalation rate: {dist: uniform, low: 1, mode: 1.5, high: 2}}\n",
                 "uncertainties.escalation rate.mode: mode is only used by the triangular",
                 id="mode-for-uniform"),
    pytest.param("uncertainties: {peak war intensity: {dist: loguniform, low: 0, high: 1}}\n",
                 "uncertainties.peak war intensity.low: a loguniform distribution needs low > 0",
                 id="loguniform-low-zero"),
    pytest.param("uncertainties: {escalation rate: {dist: uniform, low: 1}}\n",
                 "uncertainties.escalation rate: missing key 'high'", id="uncertainty-missing-high"),
    pytest.param("uncertainties: {escalation rate: [1, 2]}\n",
                 "uncertainties.escalation rate: expected a mapping", id="uncertainty-not-mapping"),
]


@pytest.mark.parametrize(("text", "expected"), INVALID)
def test_invalid_file_is_refused(tmp_path, text, expected):
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(InputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "bad.yaml" in message
    assert expected in message
    assert info.value.exit_code == 2


def test_missing_scenario_file(tmp_path):
    with pytest.raises(InputError, match="nothing.yaml: scenario file not found"):
        load_scenario(tmp_path / "nothing.yaml")


def test_misspelt_constant_suggests_only_constants(tmp_path):
    path = write(tmp_path, "typo.yaml", "constants: {mutual trusst: 0.5}\n")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "typo.yaml: constants.mutual trusst: unknown variable" in message
    assert "'Mutual Trust'" not in message  # a stock cannot be set, so it is not suggested


# --- extends ----------------------------------------------------------------------------------

def test_extends_merges_child_over_parent(tmp_path):
    write(tmp_path, "base.yaml", """
        name: base
        description: The parent.
        time: {end: 2030, dt: 0.125, saveper: 0.25}
        constants: {war end year: 2030, snapback year: 2025}
        series: {western pressure multiplier: [[2010, 1.0], [2026, 1.3]]}
        uncertainties:
          escalation rate: {dist: uniform, low: 0.5, high: 5}
          trust erosion time: {dist: uniform, low: 0.5, high: 2}
        outputs: [Mutual Trust]
        """)
    child = write(tmp_path, "sub/child.yaml", """
        extends: ../base.yaml
        time: {dt: 0.0625}
        constants: {war end year: 2028, western pressure multiplier: 1.2}
        uncertainties:
          escalation rate: {dist: loguniform, low: 1, high: 4}
        """)
    s = load_scenario(child)
    assert s.name == "child"  # the child's stem, not the parent's name
    assert s.description == "The parent."
    assert s.time == TimeSettings(2010, 2030, 0.0625, 0.25)
    assert dict(s.constants) == {"war end year": 2028.0, "snapback year": 2025.0,
                                 "western pressure multiplier": 1.2}
    assert not s.series  # the child's number replaces the parent's series
    assert s.uncertainties["escalation rate"].dist == "loguniform"
    assert s.uncertainties["trust erosion time"].high == 2.0
    assert s.outputs == ("Mutual Trust",)


def test_extends_model_is_relative_to_the_file_naming_it(tmp_path):
    if not TEACUP.is_file():
        pytest.skip("shared teacup model not present")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "teacup.mdl").write_bytes(TEACUP.read_bytes())
    write(tmp_path, "base.yaml", "model: models/teacup.mdl\nconstants: {Room Temperature: 60}\n")
    s = load_scenario(write(tmp_path, "deep/er/child.yaml", "extends: ../../base.yaml\n"))
    assert s.model == (tmp_path / "models" / "teacup.mdl").resolve()
    assert dict(s.constants) == {"Room Temperature": 60.0}
    assert s.outputs == ()  # the teacup has none of the default outputs


def test_extends_child_errors_name_the_parent_when_the_parent_is_wrong(tmp_path):
    write(tmp_path, "parent.yaml", "constants: {war end yaer: 2030}\n")
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\n")
    with pytest.raises(InputError, match=r"parent\.yaml: constants\.war end yaer: unknown variable"):
        load_scenario(child)


def test_extends_cycle_lists_the_chain(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: c.yaml\n")
    write(tmp_path, "c.yaml", "extends: a.yaml\n")
    with pytest.raises(InputError) as info:
        load_scenario(tmp_path / "a.yaml")
    message = str(info.value)
    assert "c.yaml: extends: cycle" in message
    assert "a.yaml -> b.yaml -> c.yaml -> a.yaml" in message


def test_extends_itself_is_a_cycle(tmp_path):
    with pytest.raises(InputError, match=r"self\.yaml: extends: cycle in extends: self\.yaml -> self\.yaml"):
        load_scenario(write(tmp_path, "self.yaml", "extends: self.yaml\n"))


# --- overrides and params ---------------------------------------------------------------------

@pytest.fixture
def with_series(tmp_path) -> Scenario:
    return load_scenario(write(tmp_path, "s.yaml", """
        constants: {war end year: 2030}
        series: {western pressure multiplier: [[2015, 1.0], [2026, 1.3]]}
        """))


def test_with_overrides_returns_a_new_scenario(with_series):
    changed = with_series.with_overrides({"War End Year": 2027, "western pressure multiplier": 1.5})
    assert changed.constants["war end year"] == 2027.0
    assert changed.constants["western pressure multiplier"] == 1.5
    assert "western pressure multiplier" not in changed.series
    assert with_series.constants["war end year"] == 2030.0  # the original is untouched
    assert "western pressure multiplier" in with_series.series


@pytest.mark.parametrize(("sets", "expected"), [
    pytest.param({"war start yaer": 2022}, "--set war start yaer: unknown variable 'war start yaer'; "
                 "did you mean 'war start year'", id="misspelt"),
    pytest.param({"Mutual Trust": 0.5}, "--set Mutual Trust: 'Mutual Trust' is a stock; only constants",
                 id="stock"),
    pytest.param({"war end year": 3000}, "--set war end year: 3000 is outside the declared range",
                 id="out-of-range"),
    pytest.param({"war end year": True}, "--set war end year: expected a number", id="bool"),
])
def test_with_overrides_refuses_like_a_file(with_series, sets, expected):
    with pytest.raises(InputError) as info:
        with_series.with_overrides(sets)
    assert expected in str(info.value)


def test_params_gives_floats_and_series(with_series):
    params = with_series.params()
    assert params["war end year"] == 2030.0 and isinstance(params["war end year"], float)
    series = params["western pressure multiplier"]
    assert isinstance(series, pd.Series)
    assert list(series.index) == [2015.0, 2026.0]
    assert list(series.values) == [1.0, 1.3]


@needs_teacup
def test_pysd_holds_a_series_flat_beyond_its_ends(tmp_path):
    """params() does not pad a series: PySD must hold its end values outside it."""
    scenario = load_scenario(write(tmp_path, "tea.yaml", f"""
        model: {TEACUP}
        series: {{Room Temperature: [[10, 70], [20, 100]]}}
        """))
    with pytest.warns(UserWarning, match="time-dependent"):
        out = load_model(scenario.model).run(params=scenario.params(),
                                             return_columns=["Room Temperature"])
    room = out["Room Temperature"]
    assert room.loc[0.0] == 70.0 and room.loc[5.0] == 70.0
    assert room.loc[15.0] == pytest.approx(85.0)
    assert room.loc[30.0] == 100.0


# --- models without a file, immutability, pieces ----------------------------------------------

@needs_teacup
def test_scenario_from_model_uses_the_models_own_settings():
    s = scenario_from_model(TEACUP)
    assert s.name == "teacup"
    assert s.source is None
    assert s.model == TEACUP.resolve()
    # The teacup's SAVEPER is written as "TIME STEP".
    assert s.time == TimeSettings(0.0, 30.0, 0.125, 0.125)
    assert not s.constants and not s.series and not s.uncertainties
    assert s.outputs == ()


@needs_teacup
def test_saveper_written_as_time_step_follows_a_new_dt(tmp_path):
    s = load_scenario(write(tmp_path, "tea.yaml", f"model: {TEACUP}\ntime: {{dt: 0.25}}\n"))
    assert (s.time.dt, s.time.saveper) == (0.25, 0.25)


def test_scenario_is_immutable(with_series):
    with pytest.raises(dataclasses.FrozenInstanceError):
        with_series.name = "other"
    with pytest.raises(TypeError):
        with_series.constants["war end year"] = 2031
    with pytest.raises(TypeError):
        with_series.series["war end year"] = ((2010, 2031),)


@pytest.mark.parametrize(("values", "key"), [
    pytest.param((2035, 2010, 0.25, 0.25), "time.end", id="end-before-start"),
    pytest.param((2010, 2035, 0, 0.25), "time.dt", id="dt-zero"),
    pytest.param((2010, 2011, 0.3, 0.3), "time.dt", id="dt-not-dividing"),
    pytest.param((2010, 2035, 0.25, 0.3), "time.saveper", id="saveper-not-multiple"),
])
def test_time_settings_refuse_inconsistent_values(values, key):
    with pytest.raises(InputError, match=key):
        TimeSettings(*values)


def test_time_settings_tolerate_rounding():
    assert TimeSettings(0.0, 1.0, 0.1, 0.3).dt == 0.1  # 1 / 0.1 and 0.3 / 0.1 are not exact


@pytest.mark.parametrize(("args", "key"), [
    pytest.param(("x", "uniform", 2, 1), "uncertainties.x.low", id="low-above-high"),
    pytest.param(("x", "beta", 0, 1), "uncertainties.x.dist", id="unknown-dist"),
    pytest.param(("x", "triangular", 0, 1), "uncertainties.x.mode", id="no-mode"),
    pytest.param(("x", "loguniform", 0, 1), "uncertainties.x.low", id="loguniform-zero"),
])
def test_uncertainty_refuses_bad_definitions(args, key):
    with pytest.raises(InputError, match=key):
        Uncertainty(*args)


@pytest.mark.parametrize(("uncertainty", "frozen"), [
    pytest.param(Uncertainty("x", "uniform", 1, 3), lambda st: st.uniform(loc=1, scale=2), id="uniform"),
    pytest.param(Uncertainty("x", "triangular", 0.5, 2, mode=1),
                 lambda st: st.triang(c=1 / 3, loc=0.5, scale=1.5), id="triangular"),
    pytest.param(Uncertainty("x", "triangular", 0, 1, mode=0), lambda st: st.triang(c=0, loc=0, scale=1),
                 id="triangular-mode-at-low"),
    pytest.param(Uncertainty("x", "loguniform", 0.1, 10), lambda st: st.loguniform(0.1, 10),
                 id="loguniform"),
])
def test_ppf_matches_scipy(uncertainty, frozen):
    stats = pytest.importorskip("scipy.stats")
    q = np.linspace(0, 1, 41)
    np.testing.assert_allclose(uncertainty.ppf(q), frozen(stats).ppf(q), rtol=1e-12, atol=1e-12)


def test_ppf_keeps_shape_and_refuses_outside_unit_interval():
    u = Uncertainty("x", "uniform", 2, 2)
    assert u.ppf(np.full((2, 3), 0.5)).shape == (2, 3)
    assert np.all(u.ppf([0, 1]) == 2)
    with pytest.raises(ValueError):
        Uncertainty("x", "uniform", 0, 1).ppf([1.5])


def test_a_scenario_pickles_to_an_equal_read_only_scenario(tmp_path):
    import pickle

    path = write(tmp_path, "s.yaml", """\
        name: s
        constants: {war end year: 2026}
        series: {western pressure multiplier: [[2022, 1.5], [2030, 1]]}
        uncertainties: {escalation rate: {dist: uniform, low: 0.5, high: 5}}
        """)
    scenario = load_scenario(path)
    back = pickle.loads(pickle.dumps(scenario))
    assert back == scenario and back.source == path.resolve()
    for name in ("constants", "series", "uncertainties"):
        with pytest.raises(TypeError):
            getattr(back, name)["x"] = 1
