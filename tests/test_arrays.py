"""Subscripted models element by element (``core/arrays.py``) on both engines and in loop dominance.

Oracles: the scalar model itself (a subscripted copy of it must give its numbers in every element),
PySD (the same subscripted model, run by xarray), Vensim's rules for references written out by hand
on the golden mapping model, and pysimlin's loop scores (``test_dominance.py`` runs it on
``bass_regions.mdl``).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from defdip.analysis.dominance import dominance
from defdip.core.arrays import Ranges, flat_name, flatten, split_flat_name
from defdip.core.errors import InputError
from defdip.core.model import abstract_model, model_info
from defdip.core.scenario import scenario_from_model
from defdip.engines.ensemble import EnsembleModel, Timing
from defdip.engines.simulate import simulate, simulate_batch

HERE = Path(__file__).parent
LTM = HERE / "models" / "ltm"
GOLDEN = HERE / "models" / "golden"
REGIONS = LTM / "bass_regions.mdl"
STATES = ("Adopters", "Potential Adopters", "adoption rate")


def regions_model(tmp_path: Path, elements: str = "r1, r2, r3", across: bool = False) -> Path:
    """``bass_regions.mdl`` with other regions, or with word of mouth across them (``SUM``)."""
    text = REGIONS.read_text(encoding="utf-8").replace("r1, r2, r3", elements)
    if across:
        text = text.replace("* Adopters[region]\n\t  / total market[region]",
                            "* SUM(Adopters[region!])\n\t  / SUM(total market[region!])")
    path = tmp_path / f"bass_{len(elements.split(','))}{'_across' if across else ''}.mdl"
    path.write_text(text, encoding="utf-8")
    return path


# --- names and ranges ---------------------------------------------------------------------------

def test_flat_names_round_trip():
    assert flat_name("Stock A", ("Entry 1", "Column 1")) == "Stock A[Entry 1,Column 1]"
    assert split_flat_name("growth rate[ Iran , DPRK ]") == ("growth rate", ("Iran", "DPRK"))
    assert split_flat_name("Time") == ("Time", ())


def test_a_range_listed_inside_another_stands_for_its_elements():
    ranges = Ranges.of(abstract_model(GOLDEN / "subscript_definition" / "test_subscript_definition.mdl")
                       .sections[0].subscripts)
    assert ranges.elements["dim"][:3] == ("A", "ab1", "ab2") and ranges.elements["dim"][-1] == "C"
    assert ranges.elements["subdim1 copy"] == ranges.elements["subdim1"]  # a copy
    assert ranges.position("ab1") == 2  # Vensim's number of an element: its place in the largest range


def _flat(path: Path) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        section = abstract_model(path).sections[0]
    return {el.name: el for el in flatten(section, path)}


def _reads(ast) -> set:
    found = set()
    if type(ast).__name__ == "ReferenceStructure":
        found.add(ast.reference)
    for name in getattr(ast, "__dataclass_fields__", ()):
        value = getattr(ast, name)
        for item in value if isinstance(value, (list, tuple)) else (value,):
            found |= _reads(item)
    return found


def test_references_resolve_by_vensims_rules():
    """Written out by hand from the model file: mapping, mapping of subranges, a copied range."""
    flat = _flat(GOLDEN / "subscript_mapping_simple" / "test_subscript_mapping_simple.mdl")
    # link level[DimA, DimB] = Level 2[DimA, DimC], with DimB -> DimC: db2 reads dc2
    assert _reads(flat["link level[da3,db2]"].ast) == {"level_2[da3,dc2]"}
    # POPULATION[ALL BUT YOUNGEST] gains aging[PREVIOUS COHORT] (mapped): CHILD ages in from INFANT
    assert _reads(flat["POPULATION[CHILD]"].ast.flow) == {"aging[INFANT]", "aging[CHILD]"}
    # WORK FLOW[PRODUCTS] = WORK FORCE[MFG SKILLS] * ..., MFG SKILLS -> PRODUCTS
    assert _reads(flat["WORK FLOW[SYSTEMS]"].ast) == {"work_force[ASSEMBLERS]", "productivity[ASSEMBLERS]"}


def test_an_aggregation_reads_every_element_it_runs_over():
    flat = _flat(GOLDEN / "subscript_aggregation" / "test_subscript_aggregation.mdl")
    summed = _reads(flat["Subscript 1d Sum[Column 2]"].ast)
    assert summed == {f"stock_a[Entry {i},Column 2]" for i in (1, 2, 3)}
    assert len(_reads(flat["Subcript Max 123"].ast) - {"max"}) == 3 * 2 * 3  # VMAX as nested MAX


def test_except_leaves_the_excepted_element_to_its_own_equation():
    flat = _flat(GOLDEN / "except" / "test_except.mdl")
    assert "special_giveaways" in _reads(flat["inventory[s3,p5]"].ast.flow)
    assert "special_giveaways" not in _reads(flat["inventory[s3,p4]"].ast.flow)


def test_model_info_lists_elements_and_their_values():
    info = model_info(REGIONS)
    rate = info.resolve("Contact Rate")
    assert rate.elements == ("contact rate[r1]", "contact rate[r2]", "contact rate[r3]")
    assert rate.value == 10.0
    element = info.resolve("contact rate[ R2 ]")
    assert element.name == "contact rate[r2]" and element.value == 10.0 and element.low == 0.0
    with pytest.raises(InputError, match=r"'contact rate' has no such element; its elements: contact rate\[r1\]"):
        info.resolve("contact rate[r9]")
    with pytest.raises(InputError, match="is not subscripted"):
        info.resolve("adoption fraction[r1]")


# --- a subscripted copy of a scalar model ---------------------------------------------------------

@pytest.mark.parametrize("engine", ["pysd", "ensemble"])
@pytest.mark.parametrize("elements", ["r1", "r1, r2, r3"], ids=["one", "three"])
def test_every_element_gives_the_scalar_models_numbers(engine, elements, tmp_path):
    scalar = simulate(scenario_from_model(LTM / "bass.mdl"), engine).trajectories
    arrayed = simulate(scenario_from_model(regions_model(tmp_path, elements)), engine).trajectories
    regions = elements.split(", ")
    for region in regions:
        for name in STATES:
            # PySD writes an array of one element under the variable's own name; so does defdip
            column = f"{name}[{region}]" if len(regions) > 1 else name
            np.testing.assert_allclose(arrayed[column], scalar[name], rtol=1e-12, atol=0)


@pytest.mark.parametrize("elements", ["r1", "r1, r2, r3"], ids=["one", "three"])
def test_every_element_gives_the_scalar_models_loop_scores(elements, tmp_path):
    scalar = dominance(LTM / "bass.mdl")
    arrayed = dominance(regions_model(tmp_path, elements))
    regions = elements.split(", ")
    assert len(arrayed.loops.ids) == 2 * len(regions)  # the loops run within a region
    for region in regions:
        for label in ("R1 word of mouth", "B1 saturation"):
            i = arrayed.loops.ids.index(f"{label}[{region}]")  # documented without subscripts: one per element
            j = next(k for k, nodes in enumerate(scalar.loops.nodes)
                     if {split_flat_name(n)[0] for n in arrayed.loops.nodes[i]} == set(nodes))
            np.testing.assert_allclose(arrayed.loop_score[i], scalar.loop_score[j], rtol=1e-9, equal_nan=True)
            # each region is a partition of its own, so its relative scores are the scalar model's
            np.testing.assert_allclose(arrayed.relative_score[i], scalar.relative_score[j], rtol=1e-9,
                                       equal_nan=True)


def test_a_loop_through_a_sum_runs_across_elements(tmp_path):
    result = dominance(regions_model(tmp_path, across=True))
    crossing = [nodes for nodes in result.loops.nodes if len({split_flat_name(n)[1] for n in nodes}) > 1]
    assert crossing, result.loops.ids  # Adopters[r2] -> adoption rate[r1] -> Adopters[r1] -> ...
    within = [nodes for nodes in result.loops.nodes if len({split_flat_name(n)[1] for n in nodes}) == 1]
    assert len(within) == 6  # each region's own word of mouth and saturation still close


def test_pysd_and_the_compiled_engine_agree_across_elements(tmp_path):
    scenario = scenario_from_model(regions_model(tmp_path, across=True))
    a, b = simulate(scenario, "pysd").trajectories, simulate(scenario, "ensemble").trajectories
    pd.testing.assert_frame_equal(a, b, rtol=1e-12, atol=0, check_dtype=False)


# --- setting and sampling elements ----------------------------------------------------------------

def test_a_sampled_element_and_a_sampled_array(tmp_path):
    scenario = scenario_from_model(REGIONS)
    samples = pd.DataFrame({"contact rate[r2]": [5.0, 20.0], "adoption fraction": [0.1, 0.2]})
    ds = simulate_batch(scenario, samples, outputs=["Adopters"], engine="ensemble")
    assert set(ds.data_vars) == {"Adopters[r1]", "Adopters[r2]", "Adopters[r3]"}
    pysd = simulate_batch(scenario, samples, outputs=["Adopters"], engine="pysd")
    for name in ds.data_vars:
        np.testing.assert_allclose(ds[name].values, pysd[name].values, rtol=1e-12)
    r1, r2 = ds["Adopters[r1]"].values, ds["Adopters[r2]"].values
    assert not np.allclose(r1[0], r2[0])  # only r2's contact rate changed
    np.testing.assert_allclose(r1[0], ds["Adopters[r3]"].values[0])


@pytest.mark.parametrize("value, ok", [(-1e-9, False), (0.0, True)])
def test_an_elements_range_is_its_variables(value, ok, tmp_path):
    scenario = scenario_from_model(REGIONS)
    if ok:
        assert scenario.with_overrides({"contact rate[r3]": value}).constants["contact rate[r3]"] == value
    else:
        with pytest.raises(InputError, match=r"contact rate\[r3\].*outside"):
            scenario.with_overrides({"contact rate[r3]": value})


def test_an_element_as_a_time_series_on_both_engines(tmp_path):
    from dataclasses import replace

    scenario = replace(scenario_from_model(REGIONS), series={"contact rate[r1]": ((5.0, 10.0), (10.0, 2.0))})
    a, b = simulate(scenario, "pysd").trajectories, simulate(scenario, "ensemble").trajectories
    pd.testing.assert_frame_equal(a, b, rtol=1e-12, atol=0, check_dtype=False)
    assert a["contact rate[r1]"].loc[7.5] == pytest.approx(6.0) and a["contact rate[r2]"].loc[7.5] == 10.0
    assert a["contact rate[r1]"].loc[0.0] == 10.0 and a["contact rate[r1]"].loc[20.0] == 2.0  # flat beyond


# --- random numbers -----------------------------------------------------------------------------------

RANDOM_MODEL = """{UTF-8}
dim: a, b, c ~~|
noise[dim] = RANDOM UNIFORM(0, 1, 0) ~ Dmnl ~ |
FINAL TIME = 3 ~ Year ~ |
INITIAL TIME = 0 ~ Year ~ |
SAVEPER = 1 ~ Year ~ |
TIME STEP = 1 ~ Year ~ |
"""


def test_each_element_draws_its_own_stream_whatever_the_batch(tmp_path):
    path = tmp_path / "noise.mdl"
    path.write_text(RANDOM_MODEL, encoding="utf-8")
    model = EnsembleModel.load(path)
    timing = Timing(0.0, 3.0, 1.0, 1.0)
    _, whole = model.run(timing, outputs=["noise"], size=6, seed=7)
    assert sorted(whole) == ["noise[a]", "noise[b]", "noise[c]"]
    assert not np.allclose(whole["noise[a]"], whole["noise[b]"])
    _, part = model.run(timing, outputs=["noise"], size=2, seed=7, members=np.array([4, 5]))
    for name in whole:
        np.testing.assert_array_equal(part[name], whole[name][4:])


def test_a_decimal_element_of_an_array_of_whole_numbers():
    """``contact rate`` is written as 10: PySD holds it as integers, and 9.8 must not become 9."""
    scenario = scenario_from_model(REGIONS).with_overrides({"contact rate[r2]": 9.8})
    a, b = simulate(scenario, "pysd").trajectories, simulate(scenario, "ensemble").trajectories
    assert a["contact rate[r2]"].iloc[0] == 9.8
    pd.testing.assert_frame_equal(a, b, rtol=1e-12, atol=0, check_dtype=False)
