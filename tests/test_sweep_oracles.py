"""A sweep against oracles outside the sweep code: single PySD runs, numpy over all values, the CSV files.

* the trajectories and outcomes a sweep stores equal separate :func:`defdip.engines.simulate.simulate`
  runs of the same parameter sets, read by the documented definitions written out here;
* the streamed percentiles equal ``numpy.quantile`` over every run at once when the runs do
  not fit one time block;
* the oat and morris figures show one bar per constant and series, and one panel per outcome,
  with the lengths ``indices.csv`` gives.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import SCENARIOS

from defdip.cli.main import main
from defdip.core.case import PERSISTENCE, PHASE, STRATEGIC
from defdip.core.errors import DefdipError
from defdip.core.model import model_info
from defdip.core.scenario import load_scenario
from defdip.engines.simulate import ENGINES, simulate
from defdip.figures.sweep import MAX_PANELS, figure_indices
from defdip.io.sweep_folder import run_sweep
from defdip.sweep import report
from defdip.sweep.plan import plan_sweep
from defdip.sweep.store import RESULTS_DIR, write_chunk

BASELINE = SCENARIOS / "baseline.yaml"
FAST = "ensemble" if "ensemble" in ENGINES else "pysd"
VARY = {"war fatigue rate": (0.0, 0.1), "strategic threshold": (0.6, 0.8)}  # 0.75+: no transition
OUTCOMES = ("transition year", "strategic by 2030", "years in phase 3", "Mutual Trust@2030",
            "Reciprocity@2027.1")


# --- the documented outcome definitions, written out independently ---------------------------

def lasting_strategic_start(time, phase, persistence, final):
    """First time phase 3 begins and then holds for ``persistence`` years (NaN: never)."""
    strategic = np.rint(phase) == STRATEGIC
    for i in range(len(time)):
        if strategic[i] and (i == 0 or not strategic[i - 1]):
            j = i
            while j < len(time) and strategic[j]:
                j += 1
            stop = time[j] if j < len(time) else final
            if stop - time[i] >= persistence - 1e-9:
                return float(time[i])
    return np.nan


def years_in_phase(time, phase, which, final):
    """Each saved value holds until the next save (the last until the final time)."""
    held = np.diff(np.append(time, final))
    return float(sum(h for h, p in zip(held, np.rint(phase)) if p == which))


def value_at(time, values, year):
    """Linear between the two saved times around ``year``."""
    return float(np.interp(year, time, values))


def read_exact(path) -> pd.DataFrame:
    """A table written with ``%.17g``, read back to the same bits (pandas' default parser may
    differ in the last place, which is enough to change a run)."""
    return pd.read_csv(path, index_col="run", float_precision="round_trip")


def chunk_data(folder):
    files = sorted((folder / RESULTS_DIR).glob("chunk-*.nc"))
    return xr.concat([xr.load_dataset(f) for f in files], dim="run")


# --- a sweep equals single runs --------------------------------------------------------------

@pytest.fixture(scope="module")
def pysd_sweep(tmp_path_factory):
    scenario = load_scenario(BASELINE)
    plan = plan_sweep(scenario, "mc", 4, seed=11, vary=VARY, outcomes=OUTCOMES, engine="pysd", chunk_size=3)
    folder = run_sweep(plan, tmp_path_factory.mktemp("pysd-sweep"), figures=False)
    return scenario, plan, folder


def test_stored_trajectories_equal_single_pysd_runs(pysd_sweep):
    scenario, plan, folder = pysd_sweep
    samples = read_exact(folder / "samples.csv")
    stored = chunk_data(folder)
    assert list(stored["run"].values) == list(samples.index) == [0, 1, 2, 3]
    assert len(list((folder / RESULTS_DIR).glob("chunk-*.nc"))) == 2  # 3 + 1 runs
    for run, row in samples.iterrows():
        single = simulate(scenario.with_overrides(row.to_dict()), "pysd").trajectories
        np.testing.assert_array_equal(stored["time"].values, single.index.to_numpy(float))
        for name in plan.outputs:
            np.testing.assert_array_equal(stored[name].sel(run=run).values, single[name].to_numpy(float),
                                          err_msg=f"run {run}, {name}")


def test_stored_outcomes_equal_those_of_single_pysd_runs(pysd_sweep):
    scenario, _, folder = pysd_sweep
    samples = read_exact(folder / "samples.csv")
    outcomes = read_exact(folder / "outcomes.csv")
    assert list(outcomes.columns) == [*VARY, *OUTCOMES]
    pd.testing.assert_frame_equal(outcomes[list(VARY)], samples)
    persistence = model_info(scenario.model).variables[PERSISTENCE].value
    persistence = float(scenario.constants.get(PERSISTENCE, persistence))
    final = scenario.time.end
    for run, row in samples.iterrows():
        single = simulate(scenario.with_overrides(row.to_dict()), "pysd").trajectories
        time, phase = single.index.to_numpy(float), single[PHASE].to_numpy(float)
        start = lasting_strategic_start(time, phase, persistence, final)
        expected = {"transition year": start,
                    "strategic by 2030": float(not np.isnan(start) and start <= 2030),
                    "years in phase 3": years_in_phase(time, phase, 3, final),
                    "Mutual Trust@2030": value_at(time, single["Mutual Trust"].to_numpy(float), 2030),
                    "Reciprocity@2027.1": value_at(time, single["Reciprocity"].to_numpy(float), 2027.1)}
        for name, value in expected.items():
            assert outcomes.loc[run, name] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), (run, name)


def test_outcomes_csv_streamed_by_chunk_is_the_table_written_whole(pysd_sweep, tmp_path):
    """Two chunk files, one header: the same bytes as pandas writing the whole table at once."""
    _, _, folder = pysd_sweep
    whole = tmp_path / "whole.csv"
    read_exact(folder / "outcomes.csv").to_csv(whole, index_label="run", float_format="%.17g")
    assert (folder / "outcomes.csv").read_bytes() == whole.read_bytes()


# --- percentiles over more runs than one time block holds ------------------------------------

def write_chunks(folder, sizes, times, seed=0):
    """Chunk files of random trajectories (one output, the phase), as the sweep writes them."""
    rng = np.random.default_rng(seed)
    (folder / RESULTS_DIR).mkdir(parents=True)
    paths, values, start = [], {"Level": [], PHASE: []}, 0
    for number, size in enumerate(sizes):
        data = {"Level": rng.normal(size=(size, len(times))),
                PHASE: rng.integers(1, 4, size=(size, len(times))).astype(float)}
        data["Level"][rng.random(data["Level"].shape) < 0.01] = 0.5  # ties
        path = folder / RESULTS_DIR / f"chunk-{number:05d}.nc"
        write_chunk(path, {"time": times, "runs": np.arange(start, start + size), "data": data}, {})
        for name, parts in values.items():
            parts.append(data[name])
        paths.append(path)
        start += size
    return paths, {name: np.concatenate(parts) for name, parts in values.items()}


@pytest.mark.parametrize("block_values", [None, 7 * 2 * 25_000], ids=["shipped-block", "blocks-of-7-times"])
def test_percentiles_over_many_blocks_equal_numpy_over_all_runs(tmp_path, monkeypatch, block_values):
    if block_values is not None:
        monkeypatch.setattr(report, "BLOCK_VALUES", block_values)
    times = np.linspace(2010, 2035, 101)
    sizes = (12_000, 12_000, 1_000)
    runs, outputs = sum(sizes), ["Level", PHASE]
    step = report.BLOCK_VALUES // (runs * len(outputs))
    assert 1 <= step < len(times) and len(times) % step, "the test must span several blocks, the last partial"
    paths, everything = write_chunks(tmp_path, sizes, times)
    stats = report.percentiles(paths, outputs, runs)
    np.testing.assert_array_equal(stats["time"].values, times)
    np.testing.assert_array_equal(stats["quantile"].values, report.QUANTILES)
    for name in outputs:
        np.testing.assert_array_equal(stats[name].values, np.quantile(everything[name], report.QUANTILES, axis=0))
    np.testing.assert_array_equal(stats[report.STRATEGIC_SHARE].values, np.mean(everything[PHASE] == 3, axis=0))


def test_percentiles_refuse_chunks_that_miss_runs(tmp_path):
    paths, _ = write_chunks(tmp_path, (10, 5), np.linspace(0, 1, 5))
    with pytest.raises(DefdipError, match="hold 15 runs, the sweep has 20"):
        report.percentiles(paths, ["Level"], 20)


# --- figures of the oat and morris sweeps ----------------------------------------------------

def svg_panels(path) -> int:
    """Axes drawn in an SVG written by matplotlib (one ``<g id="axes_N">`` group each)."""
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return sum(1 for g in root.iter() if g.tag.endswith("}g") and g.get("id", "").startswith("axes_"))


@pytest.mark.parametrize("method, samples, stem, bar_keys", [
    ("oat", 3, "tornado", ("low", "high")),
    ("morris", 4, "morris", ("mu_star", "sigma")),
])
def test_oat_and_morris_sweeps_draw_their_bars(tmp_path, method, samples, stem, bar_keys):
    from matplotlib.image import imread

    code = main(["sweep", str(BASELINE), "--method", method, "--samples", str(samples), "--seed", "2",
                 "--vary", "war fatigue rate=0:0.1", "--vary", "strategic threshold=0.6:0.75",
                 "--vary", "iran export capacity=300:1000", "--outcome", "Mutual Trust@2030",
                 "--outcome", "years in phase 3", "--outcome", "Reciprocity@2030",
                 "--engine", FAST, "-o", str(tmp_path)])
    assert code == 0
    folder = tmp_path / ("baseline-oat" if method == "oat" else f"baseline-{method}-seed2")  # oat draws no sample
    png, svg = folder / f"{stem}.png", folder / f"{stem}.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(png).shape[:2]
    assert height > 100 and width > 100
    outcomes = ["Mutual Trust@2030", "years in phase 3", "Reciprocity@2030"]
    # three panels; the fourth grid cell is hidden, so the SVG has the three only
    assert svg_panels(svg) == len(outcomes)

    table = pd.read_csv(folder / "indices.csv")
    fig = figure_indices(table, method, outcomes, "t")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == len(outcomes) <= MAX_PANELS
    constants = sorted(VARY) + ["iran export capacity"]
    for ax, outcome in zip(panels, outcomes):
        rows = table[table["outcome"] == outcome]
        if outcome == "years in phase 3":  # 0 in every run of the baseline: said, not drawn empty
            assert (rows["note"] == "does not vary: 0 in every run").all()
            assert not ax.patches and not ax.axison
            assert "0 in every run" in " ".join(t.get_text() for t in ax.texts)
            continue
        assert rows["note"].isna().all()  # written empty, read back as NaN
        assert sorted(t.get_text() for t in ax.get_yticklabels()) == sorted(constants)
        assert len(ax.patches) == 2 * len(constants)  # one bar per constant and series
        bars = {}
        for bar in ax.patches:
            bars.setdefault(bar.get_facecolor(), []).append(bar)
        assert len(bars) == 2
        ticks = ax.get_yticks()
        labels = [t.get_text() for t in ax.get_yticklabels()]
        for key, series in zip(bar_keys, bars.values()):  # drawn in this order
            want = rows[rows["index"] == key].set_index("parameter")["value"]
            if method == "oat":  # tornado bars start at the scenario run's value
                want = want - rows[rows["index"] == "base"]["value"].iloc[0]
            # each bar belongs to the constant whose tick is nearest its centre (morris: +-0.2)
            names = [labels[int(np.argmin(np.abs(ticks - (b.get_y() + b.get_height() / 2))))] for b in series]
            got = pd.Series([b.get_width() for b in series], index=names)
            assert sorted(got.index) == sorted(constants)
            np.testing.assert_allclose(got.sort_index().to_numpy(), want.sort_index().to_numpy(), rtol=1e-12,
                                       atol=1e-12, err_msg=f"{outcome} {key}")
