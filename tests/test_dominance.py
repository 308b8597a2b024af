"""Loop dominance (Loops That Matter): analytic cases, pysimlin as an independent oracle, the CLI."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from defdip.analysis import ltm
from defdip.analysis.dominance import dominance, parse_loop_choice, select_loops
from defdip.analysis.structure import causal_graph
from defdip.cli.main import main
from defdip.core.arrays import split_flat_name
from defdip.core.errors import InputError
from defdip.core.resources import BASELINE
from defdip.core.scenario import load_scenario

HERE = Path(__file__).parent
LTM = HERE / "models" / "ltm"
TEACUP = HERE / "models" / "golden" / "teacup" / "teacup.mdl"
PROJECT = load_scenario(BASELINE).model
TOLERANCE = 1e-6


def key(name: str) -> str:
    """pysimlin's spelling of a Vensim name."""
    return "_".join(name.lower().split())


# --------------------------------------------------------------------------
# Analytic cases


@pytest.mark.parametrize("model, sign", [("goal_seeking.mdl", -1.0), ("exponential.mdl", 1.0)],
                         ids=["goal-seeking", "exponential"])
def test_single_loop_scores_plus_or_minus_one(model, sign):
    result = dominance(LTM / model)
    assert len(result.loops.ids) == 1
    rel = result.relative_score[0, 0]
    np.testing.assert_array_equal(rel[:-1], sign)  # the last saved time has no interval in the run
    assert np.isnan(rel[-1])
    assert result.dominant[0, 0, :-1].all()
    assert result.polarity() == ["B" if sign < 0 else "R"]


def test_bass_switches_at_the_inflection():
    result = dominance(LTM / "bass.mdl")
    t = result.scenario.time
    contact, fraction, market, seed = 10.0, 0.1, 1e6, 10.0  # the constants of bass.mdl
    reinforcing = result.polarity().index("R")
    balancing = result.polarity().index("B")
    flags = result.dominant[:, 0, :-1]
    assert (flags[reinforcing] ^ flags[balancing]).all()  # one of the two dominates at every time
    switch = result.time[np.argmax(flags[balancing])]
    assert flags[reinforcing][result.time[:-1] < switch].all() and flags[balancing][result.time[:-1] >= switch].all()
    # Analytic: with p = 0 the model is logistic; the loops' scores are in the ratio
    # potential adopters : adopters, so they cross when adopters reach half the market, at the
    # inflection ln(N / A0 - 1) / r. Euler steps grow the adopters by (1 + r dt) per step, an
    # effective rate ln(1 + r dt) / dt; dt -> 0 gives the continuous time (11.51 here).
    rate = contact * fraction
    effective = math.log1p(rate * t.dt) / t.dt
    inflection = math.log(market / seed - 1) / effective
    assert abs(switch - inflection) <= t.dt
    periods = result.periods()
    assert list(periods["loops"]) == [result.loops.ids[reinforcing], result.loops.ids[balancing]]


# --------------------------------------------------------------------------
# Pure functions


def test_dominant_set_is_the_smallest_same_polarity_set_over_half():
    # one partition, one time: R loops 0.3 and 0.25 (0.55), B loops 0.4 and 0.05
    rel = np.array([0.3, 0.25, -0.4, -0.05]).reshape(4, 1)
    flags = ltm.dominant(rel, np.zeros(4, int))
    assert flags[:, 0].tolist() == [True, True, False, False]
    rel = np.array([0.2, 0.1, -0.6, -0.1]).reshape(4, 1)
    assert ltm.dominant(rel, np.zeros(4, int))[:, 0].tolist() == [False, False, True, False]
    # two partitions compete separately
    rel = np.array([1.0, -0.7, 0.3]).reshape(3, 1)
    assert ltm.dominant(rel, np.array([0, 1, 1]))[:, 0].tolist() == [True, True, False]


def test_link_score_definition():
    # z = x * y, x: 2 -> 3, y: 5 -> 4; z: 10 -> 12; Δx z = 3*5 - 10 = 5 -> |5/2| = 2.5, sign +
    assert ltm.link_score(np.array(5.0), np.array(2.0), np.array(1.0)) == 2.5
    assert ltm.link_score(np.array(-2.0), np.array(2.0), np.array(-1.0)) == 1.0
    assert ltm.link_score(np.array(1.0), np.array(0.0), np.array(1.0)) == 0.0  # z unchanged
    assert ltm.link_score(np.array(1.0), np.array(1.0), np.array(0.0)) == 0.0  # x unchanged


def test_relative_scores_sum_to_one_in_each_partition():
    scores = np.array([[2.0, 0.0], [-6.0, 0.0], [5.0, 1.0]])
    rel = ltm.relative_scores(scores, np.array([0, 0, 1]))
    np.testing.assert_allclose(rel, [[0.25, 0.0], [-0.75, 0.0], [1.0, 1.0]])


def test_strongest_path_search_finds_the_loops_exhaustive_enumeration_finds():
    result = dominance(LTM / "bass.mdl")
    graph = nx.DiGraph(list(result.link_score))
    for node in graph:
        graph.nodes[node]["kind"] = "stock" if "Adopters" in node else "auxiliary"
    found = ltm.strongest_loops(graph, result.link_score)
    assert found == ltm.enumerate_loops(graph) == list(result.loops.nodes)


def test_project_graph_is_the_structure_graph():
    result = dominance(PROJECT)
    structure = {(u, v) for u, v in causal_graph(PROJECT).edges}
    assert set(result.link_score) == structure


def test_named_loops_are_found_by_name():
    result = dominance(PROJECT)
    named = [n for n in result.loops.named if n]
    codes = {"R1", "R2", "R3", "R4", "R5", "B1", "B2", "B3", "B4", "B5"}  # the model's .About group
    assert len(named) == 10 and {n[:2] for n in named} == codes
    assert result.loops.unmatched == {}
    polarity = dict(zip(result.loops.ids, result.polarity()))
    # The documented polarity wherever the loop is active along the baseline ("?": never active), but
    # R1 and R3, which run through RI -> Reciprocity: reinforcing only while Iran sends Russia more
    # than Russia sends Iran, as the .About group says, and mostly balancing in the baseline.
    fixed = [n for n in named if n[:2] not in ("R1", "R3")]
    assert all(polarity[n] in (n[0], "?") for n in fixed)
    assert sum(polarity[n] == n[0] for n in fixed) >= 7


def test_an_ensemble_is_runs_side_by_side():
    scenario = load_scenario(BASELINE)
    samples = pd.DataFrame({"war end year": [2026.0, 2030.0, 2034.0]}, index=pd.Index([7, 8, 9], name="run"))
    ensemble = dominance(scenario, samples)
    assert ensemble.relative_score.shape[1] == 3 and list(ensemble.runs) == [7, 8, 9]
    for i, year in enumerate(samples["war end year"]):
        alone = dominance(scenario.with_overrides({"war end year": year}))
        for j, nodes in enumerate(ensemble.loops.nodes):
            k = alone.loops.nodes.index(nodes)
            np.testing.assert_allclose(ensemble.relative_score[j, i], alone.relative_score[k, 0], atol=1e-12)
            np.testing.assert_allclose(ensemble.loop_score[j, i], alone.loop_score[k, 0], rtol=1e-12, atol=0)
            # the ensemble's compiled per-cell kernel and the one-run array path pick the same sets
            np.testing.assert_array_equal(ensemble.dominant[j, i], alone.dominant[k, 0])


REFERENCE = """
import json
import numpy as np
from defdip.analysis import dominance as dm
from defdip.core.model import check_model_path, file_hash
from defdip.core.resources import BASELINE
from defdip.core.scenario import load_scenario
from defdip.sweep.plan import plan_sweep

scenario = load_scenario(BASELINE)
path = check_model_path(scenario.model)
model = dm.scoring(path, file_hash(path))
worst, same_nan, cells = 0.0, True, 0
for rows in (None, plan_sweep(scenario, "mc", 4, 0, engine="ensemble").table):
    _, compiled = dm.score_runs(model, scenario, rows)
    _, reference = dm.reference_link_scores(scenario, rows, model.edges)
    for edge, theirs in reference.items():
        ours = compiled[:, :, model.column[edge]]
        same_nan &= bool(np.array_equal(np.isnan(ours), np.isnan(theirs)))
        worst = max(worst, float(np.nanmax(np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs)))))
        cells += ours.size
print(json.dumps({"worst": worst, "same_nan": same_nan, "cells": cells}))
"""


def test_compiled_link_scores_equal_the_numpy_reference():
    """The engine's compiled link scores against ``ltm.link_score`` applied edge by edge with the numpy
    equation functions, on the project model for sampled runs.

    In a child process whose numpy evaluates exp and log with the C library, as the compiled
    engine does (``NPY_DISABLE_CPU_FEATURES``): numpy's AVX-512 versions differ from it in the
    last bit, which a link score amplifies near a cancellation (``Δz`` small against ``z``) to
    about 1e-11.
    """
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512F AVX512_SKX AVX512_ICL AVX512_SPR")
    done = subprocess.run([sys.executable, "-c", REFERENCE], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["same_nan"] and result["cells"] > 0
    assert result["worst"] <= 1e-12


def test_loop_choice():
    assert parse_loop_choice("NAMED") == "named" and parse_loop_choice("12") == 12
    with pytest.raises(InputError, match="--loops"):
        parse_loop_choice("0")
    result = dominance(PROJECT)
    assert len(select_loops(result, "all")) == len(result.loops.ids)
    assert len(select_loops(result, 3)) <= 3 + 10  # the top 3 and the ten named loops


def test_smooth_is_refused_by_name():
    with pytest.raises(InputError, match="SMOOTH"):
        dominance(HERE / "models" / "ensemble_features.mdl")


# --------------------------------------------------------------------------
# pysimlin, an independent implementation (Rust), as the oracle


def every_step(model: Path, folder: Path) -> Path:
    """A copy of ``model`` that saves every time step (pysimlin reports saved steps only)."""
    text = model.read_text(encoding="utf-8")
    head, sep, tail = text.partition("SAVEPER")
    equation_end = tail.index("~")
    copy = folder / model.name
    copy.write_text(head + sep + " = TIME STEP\n\t" + tail[equation_end:], encoding="utf-8")
    return copy


def simlin_loops(path: Path):
    """pysimlin's loops: edge set -> (loop score or None, relative score); and its link scores."""
    simlin = pytest.importorskip("simlin")
    model = simlin.load(str(path))
    sim = model.simulate(enable_ltm=True)
    sim.run_to_end()
    links = {(link.from_var, link.to_var): np.asarray(link.score) for link in sim.get_links()
             if link.score is not None}
    loops = {}
    if str(sim.get_ltm_mode()) == "exhaustive":
        for loop in model.run().loops:
            loops[_edges(loop.variables)] = (np.asarray(sim.get_loop_score(loop.id)),
                                             np.asarray(sim.get_relative_loop_score(loop.id)))
    else:
        analysis = model.analyze(timeout=120)
        assert analysis.enumeration_complete and not analysis.truncated
        for loop in analysis.loops:
            loops[_edges(loop.variables)] = (None, np.asarray(loop.behavior_time_series))
    return loops, links


def _edges(variables) -> frozenset:
    v = list(variables)
    return frozenset(zip(v, v[1:] + v[:1]))


def close(ours, theirs) -> float:
    """Largest difference relative to max(1, |theirs|)."""
    return float(np.nanmax(np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))))


ORACLE_MODELS = [pytest.param(LTM / "bass.mdl", id="bass"), pytest.param(LTM / "goal_seeking.mdl", id="goal"),
                 pytest.param(LTM / "exponential.mdl", id="exponential"), pytest.param(TEACUP, id="teacup"),
                 pytest.param(PROJECT, id="iran_russia", marks=pytest.mark.slow)]


@pytest.mark.parametrize("model", ORACLE_MODELS)
def test_scores_agree_with_pysimlin(model, tmp_path):
    copy = every_step(model, tmp_path)
    ours = dominance(copy)
    loops, links = simlin_loops(copy)
    # pysimlin labels the interval [t, t + dt] with t + dt; we label it t (Stella's convention)
    ours_links = {(key(u), key(v)): s[0, :-1] for (u, v), s in ours.link_score.items()}
    assert set(ours_links) <= set(links)  # pysimlin also lists links from constants (always 0)
    for edge, score in ours_links.items():
        assert close(score, links[edge][1:]) < TOLERANCE, edge
    index = {_edges([key(n) for n in nodes]): i for i, nodes in enumerate(ours.loops.nodes)}
    assert loops and set(loops) <= set(index)
    for edges, (score, relative) in loops.items():
        i = index[edges]
        assert close(ours.relative_score[i, 0, :-1], relative[1:]) < TOLERANCE, ours.loops.ids[i]
        if score is not None:
            assert close(ours.loop_score[i, 0, :-1], score[1:]) < TOLERANCE, ours.loops.ids[i]


def test_element_scores_agree_with_pysimlin(tmp_path):
    """pysimlin 0.8.5 scores an arrayed model's links and loops per variable; with identical
    regions, every element's link and loop must score what pysimlin gives its variable."""
    copy = every_step(LTM / "bass_regions.mdl", tmp_path)
    ours = dominance(copy)
    loops, links = simlin_loops(copy)

    def plain(name: str) -> str:
        return key(split_flat_name(name)[0])

    assert len(ours.link_score) == 3 * 4  # four links in each of three regions
    for (u, v), score in ours.link_score.items():
        assert close(score[0, :-1], links[(plain(u), plain(v))][1:]) < TOLERANCE, (u, v)
    for i, nodes in enumerate(ours.loops.nodes):
        score, relative = loops[_edges([plain(n) for n in nodes])]
        assert close(ours.loop_score[i, 0, :-1], score[1:]) < TOLERANCE, ours.loops.ids[i]
        assert close(ours.relative_score[i, 0, :-1], relative[1:]) < TOLERANCE, ours.loops.ids[i]


# --------------------------------------------------------------------------
# The command


def test_cli_writes_the_folder(tmp_path, capsys):
    assert main(["dominance", "--model", str(LTM / "bass.mdl"), "-o", str(tmp_path)]) == 0
    folder = tmp_path / "bass"
    for name in ("dominance.csv", "periods.csv", "loops.csv", "links.csv", "summary.json", "dominance.png",
                 "dominance.svg", "manifest.json"):
        assert (folder / name).is_file(), name
    table = pd.read_csv(folder / "dominance.csv")
    assert list(table.columns) == ["time", "loop", "polarity", "partition", "loop_score", "relative_score",
                                   "dominant"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["discovery"] == "exhaustive" and len(summary["periods"]) == 2
    assert "wrote" in capsys.readouterr().out
    assert main(["dominance", "--model", str(LTM / "bass.mdl"), "-o", str(tmp_path)]) == 2  # no --force


def test_cli_bad_loops_option_is_exit_2(tmp_path, capsys):
    assert main(["dominance", "--model", str(LTM / "bass.mdl"), "--loops", "some", "-o", str(tmp_path)]) == 2
    assert "--loops" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("loops", [5, 10, 12, 25])
def test_every_loop_band_and_fan_has_its_own_colour(loops):
    """The ten named loops once shared colours (R4 B4's blue, R3 B5's orange)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from defdip.figures.dominance import dominance_areas

    time = np.linspace(0, 10, 11)
    relative = {f"L{i}": np.full(11, (1 if i % 2 else -1) / loops) for i in range(loops)}
    fig, ax = plt.subplots()
    dominance_areas(ax, time, relative, labels={k: k for k in relative})
    bands = [to_hex(c.get_facecolor()[0], keep_alpha=False) for c in ax.collections]
    # one stack above zero (reinforcing), one below, each with a band per loop
    assert len(bands) == 2 * loops and bands[:loops] == bands[loops:] and len(set(bands)) == loops
    legend = {t.get_text(): to_hex(t.get_color()) for t in ax.texts if t.get_text().startswith("\u2588")}
    assert len(legend) == loops and len(set(legend.values())) == loops
    plt.close(fig)
