"""The compiled ensemble engine: new constructs against PySD, pysimlin as a second oracle,
reproducible random streams, and the on-disk compile cache.

PySD is the reference (held to 1e-12 relative; in practice bit for bit except where numpy's
and the C library's ``exp`` differ in the last bit). pysimlin, an independent simulator
(Rust), is the second oracle for the shipped model, held to 1e-9 relative.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SCENARIOS
from test_golden_models import CASES

from defdip.core.scenario import load_scenario, scenario_from_model
from defdip.engines.ensemble import COMPILING, COMPILING_SCORES, EnsembleModel, Timing
from defdip.engines.ensemble_build import Unsupported, equation_functions
from defdip.engines.simulate import simulate, simulate_batch

RTOL, ATOL = 1e-12, 1e-12
MODELS = ROOT / "tests" / "models"
FEATURES = MODELS / "compiled_features.mdl"
SHIPPED_MODEL = ROOT / "models" / "iran_russia.mdl"
GOLDEN = sorted((MODELS / "golden").glob("*/*.mdl"))


def assert_close(ours: pd.DataFrame, theirs: pd.DataFrame, rtol=RTOL) -> None:
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_array_equal(ours.index.to_numpy(), theirs.index.to_numpy())
    np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=rtol, atol=ATOL)


def test_new_constructs_match_pysd():
    """DELAY FIXED, TREND, FORECAST, SAMPLE IF TRUE and PULSE TRAIN, single run."""
    scenario = scenario_from_model(FEATURES)
    assert_close(simulate(scenario, engine="ensemble").trajectories, simulate(scenario).trajectories)


def test_new_constructs_ensemble_matches_each_pysd_run():
    scenario = scenario_from_model(FEATURES)
    samples = pd.DataFrame({"Fixed Delay Time": [0.5, 1.3, 5.0], "Average Time": [1.0, 2.5, 8.0],
                            "Horizon": [0.0, 3.0, 10.0], "Train Repeat": [0.0, 1.5, 5.0]})
    outputs = ["Fixed Out", "Trend Out", "Forecast Out", "Sampled", "Train", "Stock"]
    ours = simulate_batch(scenario, samples, outputs=outputs, engine="ensemble")
    theirs = simulate_batch(scenario, samples, outputs=outputs)
    for name in outputs:
        np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=RTOL, atol=ATOL, err_msg=name)
    assert np.ptp(ours["Fixed Out"].values[:, -10]) > 0  # the delay times really differ


def write(tmp_path, name: str, equations: str):
    path = tmp_path / name
    path.write_text("{UTF-8}\n" + equations + "FINAL TIME = 10\n\t~\tYear\n\t~\t\t|\n\n"
                    "INITIAL TIME = 0\n\t~\tYear\n\t~\t\t|\n\nSAVEPER = 0.5\n\t~\tYear\n\t~\t\t|\n\n"
                    "TIME STEP = 0.25\n\t~\tYear\n\t~\t\t|\n", encoding="utf-8")
    return path


def eq(name: str, text: str) -> str:
    return f"{name}=\n\t{text}\n\t~\tDmnl\n\t~\t\t|\n\n"


def test_npv_matches_vensims_definition_run_by_pysd(tmp_path):
    """PySD has no NPV: the oracle is Vensim's documented equivalent, as INTEGs, run by PySD."""
    common = eq("Cash", "100 + 10 * Time") + eq("Rate", "0.08") + eq("Factor", "1.5")
    ours = write(tmp_path, "npv.mdl", common + eq("Value", "NPV(Cash, Rate, 20, Factor)"))
    reference = write(tmp_path, "npv_integ.mdl", common + eq("Value", "(Accum + Cash * TIME STEP * Df) * Factor")
                      + eq("Accum", "INTEG(Cash * Df, 20)") + eq("Df", "INTEG(-Df * Rate / (1 + Rate * TIME STEP), 1)"))
    theirs = simulate(scenario_from_model(reference)).trajectories["Value"]
    mine = simulate(scenario_from_model(ours), engine="ensemble").trajectories["Value"]
    np.testing.assert_allclose(mine.to_numpy(), theirs.to_numpy(), rtol=RTOL)
    assert mine.iloc[-1] > 1000  # it accumulates


VENSIM_CASES = [case for case in CASES if case.model_path.suffix.lower() == ".mdl" and not case.refused]


@pytest.mark.parametrize("case", VENSIM_CASES, ids=[case.path for case in VENSIM_CASES])
def test_golden_models_match_pysd(case):
    """Every golden Vensim model agrees with PySD, or is refused by name as the golden list says."""
    scenario = scenario_from_model(case.model_path)
    expected_refusal = case.refusal("ensemble")
    if expected_refusal:
        with pytest.raises(Unsupported, match="--engine pysd") as refused:
            simulate(scenario, engine="ensemble")
        assert expected_refusal in str(refused.value)
        return
    assert_close(simulate(scenario, engine="ensemble").trajectories, simulate(scenario).trajectories)


def test_every_golden_model_is_listed():
    assert {case.model_path for case in CASES} >= set(GOLDEN)


# --- random numbers ----------------------------------------------------------------------------

RANDOM_MODEL = (eq("U", "RANDOM UNIFORM(2, 5, 0)") + eq("Z", "RANDOM NORMAL(-1, 3, 1, 2, 0)")
                + eq("E", "RANDOM EXPONENTIAL(0, 10, 1, 2, 0)") + eq("R", "RANDOM 0 1()")
                + eq("Level", "INTEG(U + Z + E + R - Level, 0)") + eq("Scale", "1"))


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    return EnsembleModel.load(write(tmp_path_factory.mktemp("random"), "random.mdl", RANDOM_MODEL))


def test_random_draws_follow_their_distributions(random_model):
    _, v = random_model.run(Timing(0, 10, 0.25, 0.5), size=2000, seed=7)
    u, z, e, r = (v[name].ravel() for name in "UZER")
    assert u.min() >= 2 and u.max() <= 5 and abs(u.mean() - 3.5) < 0.02
    assert z.min() >= -1 and z.max() <= 3
    assert e.min() >= 1 and e.max() <= 10
    assert 0 < r.min() and r.max() < 1 and abs(r.mean() - 0.5) < 0.01
    # calls are independent streams, not one number reused
    assert abs(np.corrcoef(r, u)[0, 1]) < 0.02


def test_same_seed_same_bits_whatever_the_batch(random_model):
    timing = Timing(0, 10, 0.25, 0.5)
    _, whole = random_model.run(timing, size=300, seed=11)
    _, part = random_model.run(timing, size=50, seed=11, members=np.arange(200, 250))
    _, one = random_model.run(timing, size=1, seed=11, members=[123])
    np.testing.assert_array_equal(part["Level"], whole["Level"][200:250])
    np.testing.assert_array_equal(one["Level"][0], whole["Level"][123])
    _, again = random_model.run(timing, size=300, seed=11)
    np.testing.assert_array_equal(again["Level"], whole["Level"])
    _, other = random_model.run(timing, size=300, seed=12)
    assert not np.array_equal(other["Level"], whole["Level"])
    assert not np.array_equal(whole["U"][0], whole["U"][1])  # members draw their own numbers


def test_sweep_chunks_draw_what_the_whole_draws(tmp_path):
    scenario = scenario_from_model(write(tmp_path, "random.mdl", RANDOM_MODEL))
    samples = pd.DataFrame({"Scale": np.ones(100)}, index=pd.Index(np.arange(100), name="run"))
    whole = simulate_batch(scenario, samples, ["Level"], engine="ensemble", seed=3)
    chunk = simulate_batch(scenario, samples.iloc[60:80], ["Level"], engine="ensemble", seed=3)
    np.testing.assert_array_equal(chunk["Level"].values, whole["Level"].values[60:80])


def test_random_equation_has_no_equation_function(tmp_path):
    with pytest.raises(Unsupported, match="draws random numbers"):
        equation_functions(write(tmp_path, "random.mdl", RANDOM_MODEL))


def test_random_equation_has_no_link_score_kernel(random_model):
    """The engine still runs the model; only its link scores (Loops That Matter) are refused."""
    assert "draws random numbers" in random_model.program.score_refusal
    assert random_model.program.links == ()
    with pytest.raises(Unsupported, match="draws random numbers"):
        random_model.link_scores(Timing(0, 10, 0.25, 0.5))


def test_link_score_kernel_scores_a_stock_on_its_net_flow(tmp_path):
    """Stock = INTEG(inflow - outflow), inflow = a Stock, outflow = b Stock: over [t, t + dt] the flows
    change by a dS and b dS, the net flow by (a - b) dS, so inflow -> Stock scores a / (a - b),
    outflow -> Stock -b / (a - b) (an outflow's sign), and Stock -> inflow 1."""
    model = EnsembleModel.load(write(tmp_path, "two_flows.mdl",
                                     eq("Stock", "INTEG(inflow - outflow, 1)") + eq("inflow", "0.3 * Stock")
                                     + eq("outflow", "0.1 * Stock")))
    _, scores = model.link_scores(Timing(0, 10, 0.25, 0.5))
    column = {link: i for i, link in enumerate(model.program.links)}
    assert set(column) == {("inflow", "Stock"), ("outflow", "Stock"), ("Stock", "inflow"), ("Stock", "outflow")}
    np.testing.assert_allclose(scores[0, :-1, column["inflow", "Stock"]], 0.3 / 0.2, rtol=1e-12)
    np.testing.assert_allclose(scores[0, :-1, column["outflow", "Stock"]], -0.1 / 0.2, rtol=1e-12)
    np.testing.assert_allclose(scores[0, :-1, column["Stock", "inflow"]], 1.0, rtol=1e-12)
    assert np.isnan(scores[0, -1]).all()  # the last saved time: its interval leaves the run


# --- pysimlin: a second, independent oracle ------------------------------------------------------

def simlin_runs(samples: pd.DataFrame, outputs, fixed: dict) -> dict[str, np.ndarray]:
    simlin = pytest.importorskip("simlin")
    sim = simlin.load(str(SHIPPED_MODEL)).simulate()
    out = {name: [] for name in outputs}
    for _, row in samples.iterrows():
        sim.reset()
        for name, value in {**fixed, **row.to_dict()}.items():
            sim.set_value(name.replace(" ", "_").lower(), float(value))
        sim.run_to_end()
        for name in outputs:
            out[name].append(np.asarray(sim.get_series(name.replace(" ", "_").lower()), float))
    return {name: np.array(v) for name, v in out.items()}


def test_baseline_and_fifty_random_sets_agree_with_pysimlin():
    from defdip.core.model import model_info

    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    assert not scenario.series
    info = model_info(SHIPPED_MODEL)
    rng = np.random.default_rng(5)
    random_sets = pd.DataFrame({name: u.ppf(rng.random(50)) for name, u in scenario.uncertainties.items()})
    baseline = pd.DataFrame({name: [scenario.constants.get(name, info.resolve(name).value)]
                             for name in random_sets.columns})
    samples = pd.concat([baseline, random_sets], ignore_index=True)
    outputs = list(scenario.outputs)
    ours = simulate_batch(scenario, samples, outputs, engine="ensemble")
    theirs = simlin_runs(samples, outputs, dict(scenario.constants))
    for name in outputs:
        np.testing.assert_allclose(ours[name].values, theirs[name], rtol=1e-9, atol=1e-12, err_msg=name)
    assert np.ptp(ours[outputs[0]].values[:, -1]) > 0.05


# --- the compile cache ---------------------------------------------------------------------------

def test_first_compile_is_reported_then_cached(tmp_path):
    model = write(tmp_path, "m.mdl", eq("X", "SMOOTH(Time, 2)") + eq("S", "INTEG(X, 0)"))
    env = dict(os.environ)
    runs = [subprocess.run([sys.executable, "-m", "defdip", "run", "--model", str(model), "--engine", "ensemble",
                            "-o", str(tmp_path / f"out{i}")], check=False, capture_output=True,
                           text=True, env=env, timeout=600)
            for i in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert COMPILING in runs[0].stderr
    assert COMPILING not in runs[1].stderr


def test_first_loop_scoring_is_reported_then_cached(tmp_path):
    """The link-score kernel compiles on the first `defdip dominance` of a model, and says so once."""
    model = write(tmp_path, "m.mdl", eq("S", "INTEG(-S / 3 + 1, 0)"))
    runs = [subprocess.run([sys.executable, "-m", "defdip", "dominance", "--model", str(model),
                            "-o", str(tmp_path / f"dom{i}")], check=False, capture_output=True,
                           text=True, timeout=600)
            for i in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert runs[0].stderr.count(COMPILING_SCORES) == 1
    assert COMPILING_SCORES not in runs[1].stderr


def test_a_sweep_seeds_the_random_streams_whatever_its_chunking(tmp_path):
    """``sweep --seed`` keys the model's RANDOM streams by run number: chunking does not change a bit."""
    from defdip.io.sweep_folder import run_sweep
    from defdip.sweep.plan import plan_sweep
    from defdip.sweep.store import open_results

    model = write(tmp_path, "random.mdl", RANDOM_MODEL)
    scenario = scenario_from_model(model)
    stored = {}
    for label, seed, chunk in (("whole", 3, 8), ("chunked", 3, 3), ("other seed", 4, 8)):
        plan = plan_sweep(scenario, "mc", 8, seed, vary={"Scale": (1.0, 2.0)}, outputs=["Level"],
                          outcomes=["Level@5"], engine="ensemble", chunk_size=chunk)
        folder = run_sweep(plan, tmp_path / label, progress=False, figures=False)
        stored[label] = open_results(folder)["Level"].values
    np.testing.assert_array_equal(stored["whole"], stored["chunked"])
    assert not np.array_equal(stored["whole"], stored["other seed"])
