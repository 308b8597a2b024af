"""Model loading: translation cached by content hash, never stale; variables described."""
import shutil
from pathlib import Path

import pytest

from defdip.core.errors import InputError
from defdip.core.model import (
    DEFAULT_MODEL,
    cache_root,
    check_model_path,
    model_format,
    model_info,
    translate,
)
from defdip.core.names import canonical


def test_translation_is_cached_by_content(tmp_path):
    copy = tmp_path / "m.mdl"
    shutil.copy(DEFAULT_MODEL, copy)
    first = translate(copy)
    assert translate(copy) == first
    assert cache_root() in first.parents and not (tmp_path / "m.py").exists()
    copy.write_text(copy.read_text().replace("war fatigue rate = 0.03", "war fatigue rate = 0.05"))
    second = translate(copy)
    assert second != first and "0.05" in second.read_text()


def test_model_info_reads_kinds_units_ranges_and_sources():
    info = model_info()
    trust = info.variables["Mutual Trust"]
    assert trust.kind == "stock" and trust.units == "Dmnl" and (trust.low, trust.high) == (0, 1)
    war = info.variables["war start year"]
    assert war.kind == "constant" and war.value == 2022.15 and "events.csv 2022-02-24" in war.comment


SOURCED = ("events.csv", "series.csv", "Calibrated", "Scenario input", "Normalisation", "Read by the analysis")


def test_every_constant_has_units_range_and_source():
    for var in model_info().constants.values():
        if var.units == "Year" and var.name in ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER"):
            continue
        assert var.units, var.name
        assert var.low is not None and var.high is not None, var.name
        assert var.low <= var.value <= var.high, var.name
        assert "Assumption" in var.comment or any(s in var.comment for s in SOURCED), var.name


def test_every_assumption_states_its_reasoning_and_range():
    """No bare "Assumption.": a reason (a sentence of its own) and the range it was given."""
    for var in model_info().constants.values():
        if "Assumption" not in var.comment:
            continue
        reason = var.comment.split("Assumption", 1)[1].lstrip(" :,.")
        assert len(reason.split()) >= 8, (var.name, var.comment)
        assert "Range" in var.comment or "range" in var.comment, (var.name, var.comment)


def test_every_cited_event_date_is_a_row_of_events_csv():
    """Citations "events.csv 2010-09-22" resolve to rows (oracle: the csv module on data/events.csv)."""
    import csv
    import re

    from defdip.core.resources import DATA_DIR
    with (DATA_DIR / "events.csv").open(newline="", encoding="utf-8") as handle:
        dates = {row["date"] for row in csv.DictReader(handle)}
    text = DEFAULT_MODEL.read_text(encoding="utf-8")
    cited = set()
    for group in re.findall(r"events\.csv ((?:\d{4}(?:-\d{2}){0,2}(?:, )?)+)", text):
        cited.update(d for d in re.findall(r"\d{4}(?:-\d{2}){0,2}", group))
    assert len(cited) > 40
    assert not sorted(cited - dates), sorted(cited - dates)


def test_interface_names_exist():
    names = ["Sanctions Pressure", "JCPOA Status", "Ukraine War Intensity", "Arms Transfers Russia to Iran",
             "Arms Transfers Iran to Russia", "Training and Exercises", "Technical and Industrial Exchange",
             "Mutual Trust", "Institutionalisation", "Cumulative Transfer Value Russia to Iran",
             "Cooperation Depth", "Reciprocity", "Strategic Partnership Index", "Partnership Phase",
             "war start year", "war end year", "snapback year", "treaty year", "us jcpoa exit year"]
    assert set(names) <= set(model_info().variables)


def test_same_content_under_another_name_shares_a_working_translation(tmp_path):
    import pysd
    a, b = tmp_path / "first.mdl", tmp_path / "second.mdl"
    shutil.copy(DEFAULT_MODEL, a)
    shutil.copy(DEFAULT_MODEL, b)
    assert translate(a) == translate(b)
    pysd.load(str(translate(b)))


def test_an_incomplete_cache_entry_is_replaced(tmp_path):
    import hashlib

    import pysd
    copy = tmp_path / "m.mdl"
    shutil.copy(DEFAULT_MODEL, copy)
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    stale = cache_root() / f"pysd-{pysd.__version__}" / digest
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "old_name.py").write_text("# an older layout")
    pysd.load(str(translate(copy)))


# --- any model PySD reads: subscripts, XMILE and Stella files -----------------------------------

GOLDEN = Path(__file__).resolve().parent / "models" / "golden"


def test_subscripted_model_lists_variables_not_subscript_ranges():
    info = model_info(GOLDEN / "subscript_2d_arrays" / "test_subscript_2d_arrays.mdl")
    assert "One Dimensional Subscript" not in info.variables  # a range, not a variable
    stock, rates = info.variables["Stock A"], info.variables["Rate A"]
    assert stock.kind == "stock"
    assert stock.subscripts == ("One Dimensional Subscript", "Second Dimension Subscript")
    assert rates.kind == "constant" and rates.value is None  # an array, not one number
    assert rates.equation == "0.01, 0.02; 0.03, 0.04; 0.05, 0.06;"
    assert info.variables["TIME STEP"].subscripts == ()


def test_a_variable_defined_piece_by_piece_is_one_variable():
    info = model_info(GOLDEN / "subscript_individually_defined_1d_arrays"
                      / "subscript_individually_defined_1d_arrays.mdl")
    rate = info.variables["Rate A"]
    assert rate.kind == "constant" and rate.subscripts == ("One Dimensional Subscript",)
    assert rate.equation == "[Entry 1] = 0.01; [Entry 2] = 0.2; [Entry 3] = 0.3"


def test_a_subrange_is_named_as_the_dimension():
    info = model_info(GOLDEN / "subscript_subranges" / "test_subscript_subrange.mdl")
    assert info.variables["Subrange Vals"].subscripts == ("Subrange of Dim1",)
    assert info.variables["Stock A"].subscripts == ("Dim1",)


def test_variables_inside_a_macro_are_not_the_models():
    info = model_info(GOLDEN / "macro_stock" / "test_macro_stock.mdl")
    assert set(info.variables) == {"macro input", "macro output", "macro parameter", "FINAL TIME",
                                   "INITIAL TIME", "SAVEPER", "TIME STEP"}


@pytest.mark.parametrize("name", ["teacup.xmile", "teacup.stmx"])
def test_xmile_and_stella_files_are_described(name):
    info = model_info(GOLDEN / "teacup" / name)
    kinds = {v.name.lower(): v.kind for v in info.variables.values()}
    assert kinds == {"room temperature": "constant", "characteristic time": "constant",
                     "heat loss to room": "auxiliary", "teacup temperature": "stock",
                     "initial time": "control", "final time": "control", "time step": "control",
                     "saveper": "control"}
    stock = info.resolve("teacup temperature")
    assert canonical(stock.equation.replace('"', "")) == "integ(-heat loss to room, 180)"
    assert (info.control("INITIAL TIME"), info.control("FINAL TIME")) == (0, 30)
    assert info.control("SAVEPER") == info.control("TIME STEP") == 0.125  # SAVEPER = time_step


def test_xmile_translation_is_cached_by_content(tmp_path):
    import pysd

    copy = tmp_path / "cup.xmile"
    shutil.copy(GOLDEN / "teacup" / "teacup.xmile", copy)
    first = translate(copy)
    assert translate(copy) == first and cache_root() in first.parents
    copy.write_text(copy.read_text().replace("<eqn>70</eqn>", "<eqn>71</eqn>"))
    second = translate(copy)
    assert second != first
    assert pysd.load(str(second)).components.room_temperature() == 71
    assert model_info(copy).variables["Room Temperature"].value == 71  # not the cached 70


def test_underscored_time_settings_are_the_time_settings():
    info = model_info(GOLDEN / "power" / "power.mdl")  # INITIAL_TIME, FINAL_TIME, TIME_STEP
    assert info.variables["INITIAL_TIME"].kind == "control"
    assert [info.control(n) for n in ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")] == [0, 5, 1, 1]


def test_a_time_setting_given_by_an_equation_is_refused_by_name():
    info = model_info(GOLDEN / "control_vars" / "test_control_vars.mdl")
    with pytest.raises(InputError, match=r"INITIAL TIME = 'IF THEN ELSE\(.*a time setting must be a number"):
        info.control("INITIAL TIME")


def test_a_model_pysd_finds_nothing_in_is_refused():
    with pytest.raises(InputError, match="comparisons.stmx: PySD found no variables"):
        model_info(GOLDEN / "comparisons" / "comparisons.stmx")


@pytest.mark.parametrize("suffix", [".MDL", ".xmile", ".STMX", ".xml"])
def test_model_suffixes_follow_pysd(tmp_path, suffix):
    path = tmp_path / f"m{suffix}"
    path.write_text("", encoding="utf-8")
    assert check_model_path(path) == path.resolve()
    assert model_format(path) == ("vensim" if suffix.lower() == ".mdl" else "xmile")


def test_another_suffix_is_refused_naming_the_allowed_ones(tmp_path):
    with pytest.raises(InputError, match=r"m\.py: model must be a Vensim or XMILE file \(\.mdl, \.xmile"):
        check_model_path(tmp_path / "m.py")
