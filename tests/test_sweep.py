"""`defdip sweep` end to end: files, resume after a real kill, workers and a real Dask cluster."""
import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import SCENARIOS

from defdip.cli.main import main
from defdip.core.scenario import load_scenario
from defdip.engines.simulate import ENGINES
from defdip.io.sweep_folder import run_sweep
from defdip.sweep.executors import run_chunks
from defdip.sweep.plan import plan_sweep
from defdip.sweep.store import RESULTS_DIR

BASELINE = SCENARIOS / "baseline.yaml"
FAST = "ensemble" if "ensemble" in ENGINES else "pysd"
VARY = {"war fatigue rate": (0.0, 0.1), "iran export capacity": (300.0, 1000.0),
        "strategic threshold": (0.65, 0.75)}


def plan(engine=FAST, runs=40, chunk=10, method="mc"):
    return plan_sweep(load_scenario(BASELINE), method, runs, seed=5, vary=VARY, engine=engine, chunk_size=chunk)


def contents(folder):
    """Everything a sweep computed, to compare two sweeps bit for bit."""
    files = sorted((folder / RESULTS_DIR).glob("chunk-*.nc"))
    chunks = xr.concat([xr.load_dataset(f) for f in files], dim="run")
    out = {"chunks": {k: chunks[k].values for k in chunks.data_vars}, "time": chunks["time"].values,
           "percentiles": xr.load_dataset(folder / "percentiles.nc")}
    for name in ("samples.csv", "outcomes.csv", "indices.csv", "summary.json"):
        if (folder / name).exists():
            out[name] = (folder / name).read_bytes()
    return out


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for name, values in a["chunks"].items():
        assert values.tobytes() == b["chunks"][name].tobytes(), name
    assert a["percentiles"].identical(b["percentiles"])
    for name in a:
        if name.endswith((".csv", ".json")):
            assert a[name] == b[name], name


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted in-process sweep (figures off: compared, not looked at)."""
    out = tmp_path_factory.mktemp("reference")
    return contents(run_sweep(plan(), out, figures=False))


def test_sweep_writes_the_documented_files(tmp_path):
    """Each file against an oracle outside the sweep code: the stored runs, SALib, numpy."""
    from SALib.analyze import sobol
    from test_sweep_oracles import lasting_strategic_start, read_exact

    from defdip.core.case import PERSISTENCE
    from defdip.core.model import model_info
    from defdip.sweep.report import QUANTILES

    # The baseline never reaches phase 3; with commitment raised (Russia's other interests holding
    # nothing back, shared isolation weighted 5, both within their declared ranges) runs with a low
    # threshold pass it, so the sample holds runs with and without a transition.
    committed = tmp_path / "committed.yaml"
    committed.write_text(f"name: committed\ndescription: test\nextends: {BASELINE}\n"
                         "constants: {divergence effect: 0, cw isolation: 5}\n")
    code = main(["sweep", str(committed), "--method", "sobol", "--samples", "8", "--seed", "3",
                 "--vary", "war fatigue rate=0:0.1", "--vary", "strategic threshold=0.5:0.65",
                 "--outcome", "transition year", "--outcome", "Mutual Trust@2030",
                 "--engine", FAST, "-o", str(tmp_path)])
    assert code == 0
    folder = tmp_path / "committed-sobol-seed3"  # a seed other than 0 is part of the name
    for name in ("samples.csv", "outcomes.csv", "indices.csv", "percentiles.nc", "summary.json",
                 "manifest.json", "fan.png", "fan.svg", "sobol.png", "transition.png"):
        assert (folder / name).is_file(), name
    assert not (tmp_path / "committed-sobol-seed3.partial").exists()
    constants = ["war fatigue rate", "strategic threshold"]
    samples, experiments = read_exact(folder / "samples.csv"), read_exact(folder / "outcomes.csv")
    assert list(samples.columns) == constants and len(samples) == 8 * (2 * 2 + 2)
    assert list(experiments.columns) == [*constants, "transition year", "Mutual Trust@2030"]
    pd.testing.assert_frame_equal(experiments[constants], samples)  # the same runs, in the same order

    # the outcomes, recomputed from the stored trajectories by their documented definitions
    stored = xr.concat([xr.load_dataset(f) for f in sorted((folder / RESULTS_DIR).glob("chunk-*.nc"))], dim="run")
    assert set(stored.data_vars) == set(load_scenario(BASELINE).outputs) | {"Mutual Trust"}
    assert stored.sizes["time"] == 101 and tuple(stored["Mutual Trust"].dims) == ("run", "time")
    assert stored["run"].values.tolist() == samples.index.tolist()
    time = stored["time"].values
    persistence = model_info(load_scenario(BASELINE).model).variables[PERSISTENCE].value
    transition = [lasting_strategic_start(time, stored["Partnership Phase"].values[i], persistence, 2035.0)
                  for i in range(len(samples))]
    np.testing.assert_array_equal(experiments["transition year"].to_numpy(), transition)
    at_2030 = stored["Mutual Trust"].values[:, np.flatnonzero(time == 2030.0)[0]]
    np.testing.assert_array_equal(experiments["Mutual Trust@2030"].to_numpy(), at_2030)
    assert np.isnan(transition).any() and not np.isnan(transition).all()  # both kinds of run occur

    # the indices: SALib's Sobol' estimator run straight on the outcome column
    indices = pd.read_csv(folder / "indices.csv")
    assert set(indices["index"]) == {"S1", "ST", "S2"}
    assert set(indices["outcome"]) == {"transition year", "Mutual Trust@2030"}
    problem = {"num_vars": 2, "names": constants, "bounds": [[0.0, 0.1], [0.5, 0.65]]}
    direct = sobol.analyze(problem, experiments["Mutual Trust@2030"].to_numpy(), calc_second_order=True,
                           num_resamples=10, seed=0)
    for key in ("S1", "ST"):
        rows = indices[(indices["outcome"] == "Mutual Trust@2030") & (indices["index"] == key)]
        np.testing.assert_allclose(rows.set_index("parameter").loc[constants, "value"], direct[key], rtol=1e-12)

    # the summary: numbers over outcomes.csv, constants ranked by indices.csv
    summary = json.loads((folder / "summary.json").read_text())
    assert (summary["runs"], summary["seed"], summary["method"], summary["samples"]) == (48, 3, "sobol", 8)
    years = experiments["transition year"].to_numpy()
    assert summary["p_strategic_by_2030"] == pytest.approx(np.mean(years <= 2030))  # NaN: not reached
    assert summary["transition_year"]["share_without_transition"] == pytest.approx(np.mean(np.isnan(years)))
    trust = summary["outcomes"]["Mutual Trust@2030"]
    assert trust["median"] == pytest.approx(np.median(at_2030), rel=1e-9)
    assert trust["mean"] == pytest.approx(np.mean(at_2030), rel=1e-9) and trust["missing"] == 0
    st = indices[(indices["outcome"] == "transition year") & (indices["index"] == "ST")]
    ranked = st.sort_values("value", ascending=False)["parameter"].tolist()
    assert [c["constant"] for c in summary["top_constants"]["transition year"]] == ranked

    # the percentiles: numpy over every stored run at once
    stats = xr.load_dataset(folder / "percentiles.nc")
    for name in stored.data_vars:
        np.testing.assert_array_equal(stats[name].values, np.quantile(stored[name].values, QUANTILES, axis=0))


def test_same_seed_identical_other_seed_not(tmp_path, reference):
    assert_identical(contents(run_sweep(plan(), tmp_path, figures=False)), reference)
    other = plan_sweep(load_scenario(BASELINE), "mc", 40, seed=6, vary=VARY, engine=FAST, chunk_size=10)
    assert not other.table.equals(plan().table)


def test_resume_keeps_good_chunks_and_redoes_bad_ones(tmp_path, reference):
    p = plan()
    partial = tmp_path / f"{p.folder_name}.partial"
    assert p.folder_name == "baseline-mc-seed5"  # a seed other than 0 is part of the name
    from defdip.io.sweep_folder import prepare_folder
    prepare_folder(p, tmp_path, force=False)
    paths = run_chunks(p, partial)
    paths[1].write_bytes(b"not a netCDF file")  # a chunk torn by a crash
    paths[2].unlink()
    before = paths[0].stat().st_mtime_ns
    assert_identical(contents(run_sweep(p, tmp_path, figures=False)), reference)
    assert (tmp_path / p.folder_name / RESULTS_DIR / "chunk-00000.nc").stat().st_mtime_ns == before


def test_killed_sweep_resumes_identical(tmp_path):
    """Really kill a sweep process after its first chunk, rerun the command, compare."""
    args = [sys.executable, "-m", "defdip", "sweep", str(BASELINE), "--method", "mc", "--samples", "12",
            "--seed", "2", "--engine", "pysd", "--chunk-size", "2", "--vary", "war fatigue rate=0:0.1",
            "--no-figures"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(args + ["-o", str(killed)], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    chunks = killed / "baseline-mc-seed2.partial" / RESULTS_DIR
    deadline = time.monotonic() + 120
    while not list(chunks.glob("chunk-*.nc")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    done = list(chunks.glob("chunk-*.nc"))
    assert 1 <= len(done) < 6, "the sweep should have been killed midway"
    assert not (killed / "baseline-mc-seed2").exists()
    subprocess.run(args + ["-o", str(killed)], check=True, capture_output=True)
    whole = tmp_path / "whole"
    subprocess.run(args + ["-o", str(whole)], check=True, capture_output=True)
    assert_identical(contents(killed / "baseline-mc-seed2"), contents(whole / "baseline-mc-seed2"))


def test_workers_identical_to_local(tmp_path, reference):
    assert_identical(contents(run_sweep(plan(), tmp_path, workers=2, figures=False)), reference)


def test_dask_cluster_identical_to_local(tmp_path, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        folder = run_sweep(plan(), tmp_path, scheduler=cluster.scheduler_address, figures=False)
    assert_identical(contents(folder), reference)


@pytest.mark.parametrize("extra, message", [
    (["--method", "grid"], "unknown method 'grid'"),
    (["--method", "mc", "--vary", "escalation rat=1:2"], "did you mean 'escalation rate'"),
    (["--method", "mc", "--vary", "escalation rate=0:99"], "declared range"),
    (["--method", "mc", "--outcome", "Cooperation Depth@later"], "not a number"),
    (["--method", "mc", "--workers", "0"], "--workers"),
])
def test_bad_input_exits_2(tmp_path, capsys, extra, message):
    assert main(["sweep", str(BASELINE), *extra, "--samples", "4", "-o", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_existing_folder_and_foreign_partial_exit_2(tmp_path, capsys):
    base = ["sweep", str(BASELINE), "--method", "mc", "--samples", "4", "--engine", FAST,
            "--vary", "war fatigue rate=0:0.1", "-o", str(tmp_path), "--no-figures"]
    assert main(base) == 0
    capsys.readouterr()
    assert main(base) == 2
    assert "--force" in capsys.readouterr().err
    assert main(base + ["--force"]) == 0
    foreign = tmp_path / "baseline-mc.partial"
    foreign.mkdir()
    (foreign / "sweep.json").write_text(json.dumps({"seed": 99}))
    capsys.readouterr()
    assert main(base + ["--force"]) == 0  # --force discards the foreign partial (another seed's)
    other = tmp_path / "other"
    (other / "baseline-mc.partial").mkdir(parents=True)
    (other / "baseline-mc.partial" / "sweep.json").write_text(json.dumps({"seed": 99}))
    capsys.readouterr()
    assert main([*base[:-3], "-o", str(other), "--no-figures"]) == 2  # the partial of seed 99 there
    err = capsys.readouterr().err
    assert "different command" in err and "rerun that command" in err and "seed" in err


@pytest.mark.parametrize("rows", [0, 1, 4095, 4096, 4097, 10_000])
def test_sample_hash_is_the_digest_of_the_whole_tables_bytes(rows):
    """Hashed a block of rows at a time, the digest is that of the row-major bytes (folders keep resuming)."""
    import hashlib
    import json

    from defdip.sweep.store import table_hash

    table = pd.DataFrame(np.random.default_rng(rows).random((rows, 5)), columns=list("abcde"),
                         index=pd.RangeIndex(7, 7 + rows, name="run"))
    whole = hashlib.sha256(json.dumps(list("abcde")).encode())
    whole.update(np.arange(7, 7 + rows, dtype=np.int64).tobytes())
    whole.update(np.ascontiguousarray(table.to_numpy(np.float64)).tobytes())
    assert table_hash(table) == whole.hexdigest()
    assert table_hash(table.iloc[1:]) != table_hash(table) or rows == 0


def overwrite_data(path, variable, size=4096):
    """Overwrite ``size`` bytes of one variable's stored values in place, the file's attrs intact."""
    import h5py

    with h5py.File(path, "r") as f:
        dataset = f[variable]
        offset = dataset.id.get_offset()
        if offset is None:  # a chunked layout: its first chunk
            offset = dataset.id.get_chunk_info(0).byte_offset
        size = min(size, dataset.id.get_storage_size())
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"\xff" * size)  # all-ones bytes: NaN in float64


def test_a_damaged_chunk_is_recomputed_and_said(tmp_path, capsys):
    """4 KiB of one chunk's data overwritten in a .partial folder: the rerun gives the undisturbed bytes."""
    from defdip.io.sweep_folder import prepare_folder

    whole = run_sweep(plan(), tmp_path / "whole", figures=False)
    p = plan()
    _, partial = prepare_folder(p, tmp_path / "damaged", force=False)
    paths = run_chunks(p, partial)
    overwrite_data(paths[1], "Strategic Partnership Index")
    with xr.open_dataset(paths[1]) as ds:  # the damage is real, and the attrs do not show it
        assert np.isnan(ds["Strategic Partnership Index"].values).any()
        assert ds.attrs["sample_sha256"] and ds.attrs["run_start"] == 10
    capsys.readouterr()
    resumed = run_sweep(p, tmp_path / "damaged", figures=False)
    err = capsys.readouterr().err
    assert "recomputing 1 chunk file(s)" in err and "chunk-00001.nc (its data do not match their checksum)" in err
    assert len(err.strip().splitlines()) == 1
    for name in ("outcomes.csv", "percentiles.nc", "samples.csv"):
        assert (resumed / name).read_bytes() == (whole / name).read_bytes(), name


def test_resume_after_another_chunk_size_keeps_each_run_once(tmp_path, reference):
    from defdip.io.sweep_folder import prepare_folder

    small = plan(chunk=5)  # 8 chunk files
    _, partial = prepare_folder(small, tmp_path, force=False)
    run_chunks(small, partial)
    folder = run_sweep(plan(), tmp_path, figures=False)  # 4 chunks of 10: the old ones hold other ranges
    assert len(list((folder / RESULTS_DIR).glob("chunk-*.nc"))) == 4
    assert_identical(contents(folder), reference)


def test_two_identical_sweeps_at_once_one_writes_the_other_refuses(tmp_path):
    """Two real processes, started together: one sweep finishes, the other exits 2 in one line."""
    argv = [sys.executable, "-m", "defdip", "sweep", str(BASELINE), "--method", "mc", "--samples", "6",
            "--engine", FAST, "--chunk-size", "2", "--vary", "war fatigue rate=0:0.1", "-o", str(tmp_path)]
    procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    assert sorted(code for code, _ in results) == [0, 2], results
    (err,) = [err for code, err in results if code == 2]
    assert "another defdip command" in err or "already exist" in err
    assert "internal error" not in err and len([x for x in err.splitlines() if "error" in x]) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["baseline-mc"]
    assert (tmp_path / "baseline-mc" / "fan.png").is_file()


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_file_where_the_partial_folder_goes_is_refused_and_kept(tmp_path, capsys, force):
    (tmp_path / "baseline-mc.partial").write_text("precious\n")
    assert main(["sweep", "baseline", "--method", "mc", "--samples", "4", "-o", str(tmp_path), *force]) == 2
    assert "baseline-mc.partial: is not a folder of an unfinished sweep" in capsys.readouterr().err
    assert (tmp_path / "baseline-mc.partial").read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["baseline-mc.partial"]


def test_a_chunk_without_a_data_checksum_is_recomputed(tmp_path, capsys, reference):
    """A .partial folder from before chunks carried a checksum: its chunks are redone, and it is said."""
    from defdip.io.sweep_folder import prepare_folder
    from defdip.sweep.store import netcdf_engine

    p = plan()
    _, partial = prepare_folder(p, tmp_path, force=False)
    paths = run_chunks(p, partial)
    old = xr.load_dataset(paths[0])
    del old.attrs["data_sha256"]
    old.to_netcdf(paths[0], engine=netcdf_engine())
    capsys.readouterr()
    assert_identical(contents(run_sweep(p, tmp_path, figures=False)), reference)
    assert "chunk-00000.nc (no data checksum: written by an earlier version)" in capsys.readouterr().err


def test_summary_lines_say_why_an_outcome_has_no_ranking(tmp_path):
    from defdip.cli.sweep import summary_lines

    summary = {"scenario": "s", "method": "sobol", "runs": 100, "engine": "ensemble",
               "problem": {"constants": {"a": {}}, "source": "--vary"},
               "top_constants": {"years in phase 3": [], "Mutual Trust@2030": []},
               "indices_not_informative": {"years in phase 3": "not defined: 1 of 100 runs differ from 0"}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    text = summary_lines(tmp_path)
    assert "indices of years in phase 3: not defined: 1 of 100 runs differ from 0" in text
    assert "most influential on Mutual Trust@2030: none, no constant moves it" in text
    assert "(0)" not in text
