"""Model loading: translation cached by content hash, never stale; variables described."""
import shutil

from defdip.core.model import DEFAULT_MODEL, cache_root, model_info, translate


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
    assert war.kind == "constant" and war.value == 2022.15 and "row 25" in war.comment


def test_every_constant_has_units_range_and_source():
    for var in model_info().constants.values():
        assert var.units, var.name
        assert var.low is not None and var.high is not None, var.name
        assert var.low <= var.value <= var.high, var.name
        assert ("row" in var.comment or "ssumption" in var.comment or "alibrated" in var.comment
                or "series.csv" in var.comment or "ormalisation" in var.comment or "model-spec" in var.comment), var.name


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
