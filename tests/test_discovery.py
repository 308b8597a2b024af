"""Scenario discovery: PRIM recovers a known box, its trajectory is EMA's, CART's leaves add up, the CLI."""
import json
import sys

import numpy as np
import pandas as pd
import pytest

from defdip.analysis.discovery import discover
from defdip.cli.main import main

pytest.importorskip("ema_workbench", reason="the discover extra is not installed")

TRUE_BOX = {"x0": (0.2, 0.7), "x1": (0.3, 0.8), "x2": (0.0, 0.5)}  # 3 of 6 inputs decide the outcome
NOISE = 0.05  # share of runs whose outcome is flipped


def synthetic(seed: int, n: int = 2000):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((n, 6)), columns=[f"x{i}" for i in range(6)], index=pd.RangeIndex(n, name="run"))
    inside = np.all([(x[k] >= lo) & (x[k] <= hi) for k, (lo, hi) in TRUE_BOX.items()], axis=0)
    y = inside ^ (rng.random(n) < NOISE)
    return x, pd.DataFrame({"hit": y}, index=x.index)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prim_recovers_the_true_box_and_only_its_dimensions(seed):
    x, y = synthetic(seed)
    result = discover(x, y, "hit", ranges={c: (0.0, 1.0) for c in x})
    box = result.box()
    assert sorted(box.index[box["restricted"]]) == sorted(TRUE_BOX)
    for name, (low, high) in TRUE_BOX.items():
        assert abs(box.at[name, "low"] - low) <= 0.05, (name, box.at[name, "low"])
        assert abs(box.at[name, "high"] - high) <= 0.05, (name, box.at[name, "high"])
    # a restricted side is significant; an unrestricted one has no quasi-p-value
    assert box.loc[box["low_restricted"], "qp_low"].lt(0.05).all()
    assert box.loc[~box["high_restricted"], "qp_high"].isna().all()


def test_peeling_trajectory_equals_ema_workbench_on_same_data_and_settings():
    from ema_workbench.analysis import prim

    x, y = synthetic(5, 1500)
    settings = {"threshold": 0.7, "peel_alpha": 0.1, "paste_alpha": 0.05, "mass_min": 0.03}
    ours = discover(x, y, "hit", **settings).tradeoff
    ours = ours[ours["dropped"] == ""]  # the steps after the peeling drop restrictions: EMA's own calls
    box = prim.Prim(x.reset_index(drop=True), y["hit"].to_numpy().astype(int), **settings).find_box()
    theirs = box.peeling_trajectory
    assert len(ours) == len(theirs) > 5
    for column in ("coverage", "density", "mass", "res_dim", "n", "k"):
        np.testing.assert_allclose(ours[column].to_numpy(float), theirs[column].to_numpy(float), rtol=0, atol=0)


def test_tradeoff_rows_are_the_boxes_they_describe():
    """Coverage, density and mass recomputed by counting the runs inside each step's box limits."""
    from ema_workbench.analysis import prim

    x, y = synthetic(3, 1200)
    hit = y["hit"].to_numpy()
    ours = discover(x, y, "hit")
    box = prim.Prim(x.reset_index(drop=True), hit.astype(int), threshold=0.8).find_box()
    for step, lims in enumerate(box.box_lims):
        inside = np.all((x.to_numpy() >= lims.loc[0].to_numpy()) & (x.to_numpy() <= lims.loc[1].to_numpy()), axis=1)
        row = ours.tradeoff.iloc[step]
        assert row["n"] == inside.sum() and row["k"] == (inside & hit).sum()
        assert row["coverage"] == pytest.approx((inside & hit).sum() / hit.sum())
        assert row["density"] == pytest.approx((inside & hit).sum() / inside.sum())
        assert row["mass"] == pytest.approx(inside.mean())


def test_cart_leaves_partition_the_runs_and_count_right():
    x, y = synthetic(4, 1000)
    result = discover(x, y, "hit", method="cart")
    hit = y["hit"].to_numpy()
    assert result.tradeoff["n"].sum() >= len(x)  # leaves cover every run (ties on a split may count twice)
    assert result.tradeoff["k"].sum() >= hit.sum()
    for step, row in result.tradeoff.iterrows():
        lims = result.box(step)
        inside = np.all((x.to_numpy() >= lims["low"].to_numpy()) & (x.to_numpy() <= lims["high"].to_numpy()), axis=1)
        assert row["n"] == inside.sum()
        assert row["density"] == pytest.approx((inside & hit).sum() / inside.sum())
    best = result.tradeoff.sort_values("coverage").iloc[-1]
    assert best["density"] > 0.8  # the true box is found as a leaf of cases


def test_condition_must_split_the_runs():
    x, y = synthetic(0, 200)
    with pytest.raises(Exception, match="none of the 200 runs meet it"):
        discover(x, y.assign(hit=False), "hit")


@pytest.fixture
def sweep_folder(tmp_path):
    """A sweep folder as `defdip sweep` writes it, from the synthetic data (names of real outcomes)."""
    x, y = synthetic(7, 800)
    folder = tmp_path / "toy-lhs"
    folder.mkdir()
    outcomes = pd.DataFrame({"transition year": np.where(y["hit"], 2028.0, np.nan),
                             "strategic by 2030": y["hit"].astype(float)}, index=x.index)
    x.to_csv(folder / "samples.csv")
    x.join(outcomes).to_csv(folder / "outcomes.csv")
    (folder / "summary.json").write_text(json.dumps({
        "scenario": "toy", "method": "lhs", "outcomes": {k: {} for k in outcomes},
        "problem": {"constants": [{"name": c, "low": 0, "high": 1} for c in x]}}))
    return folder


def test_cli_writes_the_discovery_folder(sweep_folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["discover", str(sweep_folder), "--where", "transition year <= 2032", "-o", str(out)]) == 0
    folder = out / "toy-lhs-discover"
    names = {p.name for p in folder.iterdir()}
    assert {"boxes.csv", "tradeoff.csv", "leaves.csv", "summary.json", "tradeoff.png", "box_limits.png"} <= names
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["prim"]["cases"] == int((pd.read_csv(sweep_folder / "outcomes.csv")["strategic by 2030"]).sum())
    assert set(summary["prim"]["chosen_box"]["limits"]) == set(TRUE_BOX)
    tradeoff = pd.read_csv(folder / "tradeoff.csv")
    assert tradeoff["chosen"].sum() == 1
    boxes = pd.read_csv(folder / "boxes.csv")
    assert set(boxes["method"]) == {"prim", "cart"}
    # every CART leaf's limits, those of a majority of cases marked
    leaves = pd.read_csv(folder / "leaves.csv")
    cart = boxes[boxes["method"] == "cart"]
    assert sorted(cart["box"].unique()) == sorted(leaves["leaf"])
    majority = set(leaves.loc[leaves["density"] >= 0.5, "leaf"])
    assert set(cart.loc[cart["case_leaf"].astype(bool), "box"]) == majority != set(leaves["leaf"])
    assert "PRIM box" in capsys.readouterr().out
    from defdip.io.report import discovery_html

    section = discovery_html(folder)  # the report's section: the boxes' tables and both figures
    assert section.count("<table>") >= 2 and section.count("data:image/png;base64,") == 2
    assert "x0" in section and "coverage" in section
    # the same command again refuses to overwrite
    assert main(["discover", str(sweep_folder), "--where", "strategic by 2030", "-o", str(out)]) == 2


def test_cli_says_how_to_install_the_extra(sweep_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ema_workbench", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "ema_workbench.analysis", None)
    status = main(["discover", str(sweep_folder), "--where", "strategic by 2030", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2 and "pip install 'defdip[discover]'" in err
    assert not (tmp_path / "o").exists()


def test_cli_refuses_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    assert main(["discover", str(tmp_path), "--where", "strategic by 2030"]) == 2
    assert "no samples.csv" in capsys.readouterr().err


def wide(seed: int, n: int = 2000, dims: int = 16):
    """The true box in 3 of ``dims`` inputs: PRIM's later steps restrict many noise inputs."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((n, dims)), columns=[f"x{i}" for i in range(dims)],
                     index=pd.RangeIndex(n, name="run"))
    inside = np.all([(x[k] >= lo) & (x[k] <= hi) for k, (lo, hi) in TRUE_BOX.items()], axis=0)
    return x, pd.DataFrame({"hit": inside ^ (rng.random(n) < NOISE)}, index=x.index)


def test_without_a_box_dense_enough_the_whole_trajectory_and_a_box_of_few_constants():
    from defdip.analysis.discovery import MAX_DIMENSIONS

    x, y = wide(0)
    result = discover(x, y, "hit", threshold=1.0)
    assert not result.settings["found"] and (result.tradeoff["density"] < 1.0).all()
    assert len(result.tradeoff) > 20 and result.tradeoff["res_dim"].max() > MAX_DIMENSIONS
    box = result.box()
    assert sorted(box.index[box["restricted"]]) == sorted(TRUE_BOX)
    # the trade-off figure draws every step, coloured by its number of restricted constants
    from defdip.figures.discovery import discovery_figures

    ax = discovery_figures(result)["tradeoff"].axes[0]
    peeled = result.tradeoff[result.tradeoff["dropped"] == ""]
    np.testing.assert_array_equal(ax.collections[0].get_array(), peeled["res_dim"].to_numpy())


def test_restrictions_that_may_be_chance_are_dropped_one_by_one():
    """EMA's drop_restriction: each drop is a new step; what is left is significant."""
    from defdip.analysis.discovery import QP_SIGNIFICANT

    x, y = wide(2)
    result = discover(x, y, "hit")
    drops = result.tradeoff[result.tradeoff["dropped"] != ""]
    assert drops["dropped"].tolist() == ["x8"] and result.chosen == drops["step"].iloc[-1]
    box = result.box()
    assert sorted(box.index[box["restricted"]]) == sorted(TRUE_BOX)
    restricted = box[box["restricted"]]
    assert (restricted[["qp_low", "qp_high"]].min(axis=1) <= QP_SIGNIFICANT).all()
    # the step the drops began from restricted x8 too, and one step per drop follows the peeling
    peeled = result.tradeoff[result.tradeoff["dropped"] == ""]
    assert drops["step"].tolist() == list(range(len(peeled), len(result.tradeoff)))
    # --box gives a step as it is
    assert discover(x, y, "hit", step=int(peeled["step"].iloc[-1])).tradeoff["dropped"].eq("").all()
