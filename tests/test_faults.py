"""Faults from outside: Ctrl-C, full disks, unreachable services, runaway inputs.

Each leaves one line on stderr, the documented exit status, and nothing behind.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

PYTHON = [sys.executable, "-m", "defdip"]


def start(args, cwd):
    """The command in its own process group, as a terminal runs it (Ctrl-C reaches every process)."""
    return subprocess.Popen([*PYTHON, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def wait_for(condition, proc, limit=300.0):
    """Poll until ``condition()`` holds; fail if the process ends first (the limit only stops a hang)."""
    end = time.monotonic() + limit
    while not condition():
        if proc.poll() is not None or time.monotonic() > end:
            out, err = proc.communicate()
            pytest.fail(f"the command ended before the point to interrupt it (exit {proc.returncode}):\n{err}")
        time.sleep(0.02)


def interrupt(proc):
    """Ctrl-C: SIGINT to the whole process group; return ``(exit status, stderr)``."""
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


def test_ctrl_c_during_a_multi_scenario_run_publishes_nothing(tmp_path):
    out = tmp_path / "r"
    scenarios = ["baseline", "no_war", "ceasefire_2027", "protracted_war", "maximum_pressure"]
    proc = start(["run", *scenarios, "-o", str(out)], tmp_path)
    # the second scenario is being written: the first one is finished
    wait_for(lambda: any(out.glob(".no_war.tmp-*/trajectories.csv")), proc)
    status, err = interrupt(proc)
    assert status == 130
    assert err.strip().splitlines() == ["defdip: interrupted; nothing was written"]
    assert not out.exists() or list(out.iterdir()) == []


def test_a_figure_worker_ends_silently_on_ctrl_c():
    """Ctrl-C reaches the figure worker too; it must not print a traceback of its own."""
    from defdip.core import processes
    from defdip.figures.render import Renderer

    with Renderer() as renderer:
        handler = renderer._pool.submit(signal.getsignal, signal.SIGINT).result()
    assert handler is processes._end


@pytest.mark.slow
def test_ctrl_c_during_a_sweep_says_what_it_kept(tmp_path):
    out = tmp_path / "t"
    proc = start(["sweep", "baseline", "--method", "mc", "--samples", "3000", "--chunk-size", "100",
                  "--workers", "2", "-o", str(out)], tmp_path)
    wait_for(lambda: any(out.glob("baseline-mc.partial/results/chunk-*.nc")), proc)
    status, err = interrupt(proc)
    assert status == 130
    assert err.strip().splitlines()[-1:] == [
        f"defdip: interrupted; finished chunks are kept in {out / 'baseline-mc.partial'} -- rerun the same "
        "command to resume"]
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["baseline-mc.partial"]
    assert not list(out.rglob("*.tmp"))


POOL_SCRIPT = """
import sys
import numpy as np
from defdip.core.processes import WorkerPool

def big(task):
    return np.ones(4_000_000)  # 32 MB: a worker spends a while sending it

if __name__ == "__main__":
    try:
        with WorkerPool(2, big) as pool:
            for _ in pool.map_unordered(list(range(1000))):
                print("result", flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
"""


def test_ctrl_c_while_workers_send_large_results_never_hangs(tmp_path):
    """Ctrl-C reaching workers in the middle of sending a result (the reported hang: a pool whose
    reader thread waited forever for the rest of a message that never came) ends every time."""
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT, encoding="utf-8")
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        for _ in range(3):
            proc.stdout.readline()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail("Ctrl-C of a worker pool hung")
        assert err.strip().splitlines() == ["interrupted"]


def test_a_worker_pool_passes_on_a_workers_error_and_its_death():
    from defdip.core.errors import DefdipError
    from defdip.core.processes import WorkerPool

    with WorkerPool(2, _fail) as pool, pytest.raises(DefdipError, match="bad task 1"):
        dict(pool.map_unordered([0, 1]))
    with WorkerPool(1, _die) as pool, pytest.raises(RuntimeError, match="exit status 3"):
        list(pool.map_unordered([0]))
    with WorkerPool(2, abs) as pool:
        assert dict(pool.map_unordered([-1, -2, -3])) == {0: 1, 1: 2, 2: 3}


def _fail(task):
    from defdip.core.errors import DefdipError

    if task:
        raise DefdipError(f"bad task {task}")
    return task


def _die(task):
    os._exit(3)


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a file system of the given size [bytes] (a tmpfs; needs root, else skipped)."""
    mounted = []

    def make(size):
        disk = tmp_path / "disk"
        disk.mkdir()
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
                              capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(disk)
        return disk

    yield make
    for disk in mounted:
        subprocess.run(["umount", str(disk)], check=False)


def leftovers(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_sweep_the_disk_cannot_hold_is_refused_before_anything_is_written(small_disk):
    disk = small_disk("3m")
    done = subprocess.run([*PYTHON, "sweep", "baseline", "--method", "mc", "--samples", "3000", "-o", "t"],
                          cwd=disk, capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "defdip: error: -o t: the sweep needs about 27,840,000 bytes (3,000 runs) and the disk has "
        f"{3 * 2 ** 20:,} free; free some space, give -o a folder on another disk or use fewer --samples"]
    assert leftovers(disk) == []


# The same sweep with the estimate switched off, so the disk fills while chunks are written (the
# estimate is rough: another program may fill the disk during a sweep).
WITHOUT_ESTIMATE = ("import sys; import defdip.io.sweep_folder as f; f.check_free_space = lambda *a: None; "
                    "from defdip.cli.main import main; sys.exit(main(sys.argv[1:]))")


@pytest.mark.slow
def test_full_disk_during_a_sweep_is_one_line_and_leaves_no_temporary_file(small_disk):
    disk = small_disk("3m")
    done = subprocess.run([sys.executable, "-c", WITHOUT_ESTIMATE, "sweep", "baseline", "--method", "mc",
                           "--samples", "3000", "-o", "t"], cwd=disk, capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("defdip: error: no space left on the device")
    assert "finished chunks are kept in t/baseline-mc.partial" in done.stderr
    assert not [p for p in leftovers(disk) if ".tmp" in p]


def test_full_disk_during_a_multi_scenario_run_leaves_nothing(small_disk):
    disk = small_disk("700k")
    done = subprocess.run([*PYTHON, "run", "baseline", "no_war", "ceasefire_2027", "-o", "r"],
                          cwd=disk, capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "defdip: error: no space left on the device; free some space or give -o a folder on another disk"]
    assert leftovers(disk) == []


def test_a_full_disk_while_writing_a_run_is_exit_2_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """Where no small disk can be mounted: the writer of the second scenario fails as a full disk does."""
    import errno

    from defdip.cli.main import main
    from defdip.io import pipeline

    written = []
    real = pipeline.write_run

    def write_run(work, *args):
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(work)
        real(work, *args)

    monkeypatch.setattr(pipeline, "write_run", write_run)
    status = main(["run", "baseline", "no_war", "-o", str(tmp_path / "r")])
    assert status == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "defdip: error: no space left on the device; free some space or give -o a folder on another disk"]
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("address, says", [("not an address", "not a Dask scheduler address"),
                                           ("tcp://127.0.0.1:1", "no Dask scheduler answers there")],
                         ids=["malformed", "unreachable"])
def test_a_bad_scheduler_is_refused_before_any_folder_is_made(tmp_path, capsys, address, says):
    from defdip.cli.main import main

    out = tmp_path / "t"
    status = main(["sweep", "baseline", "--method", "mc", "--samples", "20", "--scheduler", address, "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and says in err[0] and "--scheduler" in err[0]
    assert not out.exists()


def test_explore_refuses_a_port_in_use_before_it_starts(capsys):
    import socket

    from defdip.cli import explore
    from defdip.cli.main import main

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind((explore.HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        status = main(["explore", "baseline", "--no-browser", "--port", str(port)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith(f"defdip: error: --port {port}: 127.0.0.1:{port} is in use")


def test_the_port_check_probes_the_explorers_interface():
    pytest.importorskip("panel")
    from defdip.cli import explore
    from defdip.io import explore_app

    assert explore.HOST == explore_app.HOST


def test_a_yaml_file_nested_5000_deep_is_refused(tmp_path):
    from defdip.core.errors import InputError
    from defdip.core.scenario import load_scenario

    deep = tmp_path / "deep.yaml"
    deep.write_text("name: deep\nconstants: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InputError, match=r"deep.yaml: nested too deeply"):
        load_scenario(deep)


@pytest.mark.parametrize("nesting", ["(" * 3000 + "transition year <= 2032" + ")" * 3000,
                                     "not " * 3000 + "(transition year <= 2032)"], ids=["parentheses", "not"])
def test_a_where_nested_3000_deep_is_refused(nesting):
    from defdip.analysis.where import MAX_NESTING, parse_where
    from defdip.core.errors import InputError

    with pytest.raises(InputError, match=f"nested more than {MAX_NESTING} deep"):
        parse_where(nesting, ["transition year"])
    parse_where("(" * MAX_NESTING + "transition year <= 2032" + ")" * MAX_NESTING, ["transition year"])


def test_a_symbolic_link_loop_in_extends_is_refused(tmp_path):
    from defdip.core.errors import InputError
    from defdip.core.scenario import load_scenario

    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    (tmp_path / "mine.yaml").write_text("name: mine\nextends: a.yaml\n")
    with pytest.raises(InputError, match=r"mine.yaml: extends: .*a.yaml is a loop of symbolic links"):
        load_scenario(tmp_path / "mine.yaml")


@pytest.mark.parametrize("time, steps", [("{dt: 1.0e-7}", 250_000_000), ("{end: 1.0e7}", 639_871_360)],
                         ids=["tiny-dt", "far-end"])
def test_a_run_of_too_many_steps_is_refused_saying_how_to_allow_it(tmp_path, time, steps):
    from defdip.core.errors import InputError
    from defdip.core.scenario import load_scenario

    path = tmp_path / "long.yaml"
    path.write_text(f"name: long\nextends: {baseline_file()}\ntime: {time}\n")
    with pytest.raises(InputError, match=rf"long.yaml: time.dt: a run would take {steps:,} time steps .*"
                                         rf"set DEFDIP_MAX_STEPS={steps} in the environment"):
        load_scenario(path)


def test_the_step_limit_is_read_from_the_environment(monkeypatch):
    from defdip.core.errors import InputError
    from defdip.core.scenario import load_scenario

    monkeypatch.setenv("DEFDIP_MAX_STEPS", "1599")  # the baseline takes 1,600 (25 years every 1/64)
    with pytest.raises(InputError, match="1,600 time steps"):
        load_scenario(baseline_file())
    monkeypatch.setenv("DEFDIP_MAX_STEPS", "1600")
    load_scenario(baseline_file())
    monkeypatch.setenv("DEFDIP_MAX_STEPS", "many")
    with pytest.raises(InputError, match="DEFDIP_MAX_STEPS='many': must be a positive whole number"):
        load_scenario(baseline_file())


def test_robustness_refuses_a_threshold_step_that_makes_too_many_definitions(capsys):
    from defdip.cli.main import main

    assert main(["robustness", "baseline", "--threshold-step", "1e-9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--threshold-step: 1e-09 would compare" in err[0]
    assert "DEFDIP_MAX_THRESHOLDS=" in err[0]


def baseline_file():
    from defdip.core.resources import BASELINE

    return BASELINE


def test_a_sweep_the_disk_cannot_hold_is_refused_before_it_starts(tmp_path, monkeypatch, capsys):
    import shutil as _shutil

    from defdip.cli.main import main
    from defdip.io import sweep_folder

    usage = _shutil.disk_usage(tmp_path)
    monkeypatch.setattr(sweep_folder.shutil, "disk_usage", lambda path: usage._replace(free=100_000))
    assert main(["sweep", "baseline", "--method", "oat", "-o", str(tmp_path / "t")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"defdip: error: -o {tmp_path / 't'}: the sweep needs about ")
    assert "bytes (136 runs) and the disk has 100,000 free" in line
    assert list(tmp_path.iterdir()) == []
