"""The README's command examples, read from its ```sh and ```bash blocks so the two cannot drift.

Each example is checked against the parser here; ``test_every_readme_example_runs_as_written``
(set ``DEFDIP_README_EXAMPLES=1``; CI does) installs the package into a fresh virtual environment
with ``pip install .`` and runs every example, in the README's order, from an empty folder,
against its documented exit status: 0, or the N of an ``# ... exit N`` comment on its line.
"""
import os
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from defdip.cli.main import build_parser
from defdip.core.resources import CHECKS_FILE, IMPACT_MAPPING, IMPACT_MATRIX

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# The files the README's examples ask the reader to bring, stood in for by copies of shipped ones.
USER_FILES = {"my_matrix.csv": IMPACT_MATRIX, "my_mapping.yaml": IMPACT_MAPPING, "my_checks.yaml": CHECKS_FILE,
              "other.mdl": ROOT / "tests" / "models" / "golden" / "teacup" / "teacup.mdl"}
# Examples that need a service the reader starts first; what they run is tested with a local cluster
# in tests/test_sweep.py.
NEEDS_A_SERVICE = ("--scheduler",)


def readme_examples() -> list[tuple[str, int]]:
    """``(command, exit status)`` for every ``defdip ...`` line of the README's shell blocks,
    continuation lines joined; the status is 0 unless the line's comment says ``exit N``."""
    blocks = re.findall(r"^```(?:sh|bash)\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    examples = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["defdip"]:
                comment = line.partition("  #")[2]
                status = re.search(r"\bexits? (\d+)\b", comment)
                examples.append((shlex.join(words), int(status.group(1)) if status else 0))
    return examples


def readme_commands() -> list[str]:
    return [command for command, _ in readme_examples()]


def is_synopsis(command: str) -> bool:
    """A usage synopsis (``[--option ...]``), not a command to run."""
    return any(w.startswith("[") for w in shlex.split(command))


def test_the_readme_has_command_examples():
    assert len(readme_commands()) >= 15


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_is_accepted_by_the_parser(command):
    """Each example's options exist and take the values shown (a usage synopsis keeps its brackets)."""
    words = shlex.split(command)[1:]
    if is_synopsis(command):  # a synopsis: NAME, [--option ...]
        words = [w for w in words if not w.startswith("[") and not w.endswith("]") and w.isascii()]
        words = [w for w in words if not w.isupper() and w not in ("...",)]
    try:
        build_parser().parse_args(words)
    except SystemExit as exc:
        pytest.fail(f"README: `{command}` is refused by the parser (exit {exc.code})")


def test_the_readme_user_files_are_the_ones_its_examples_name():
    """The stand-ins cover every file an example expects the reader to have, and nothing else."""
    named = {w for command in readme_commands() for w in shlex.split(command) if w in USER_FILES}
    assert named == set(USER_FILES)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``bin/`` of a fresh virtual environment with ``pip install .`` of this repository.

    Its dependencies are the running interpreter's (a ``.pth`` line), so the install needs no
    network; the package itself comes only from the build, never from the source tree.
    """
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                           str(ROOT)],
                          capture_output=True, text=True, cwd=tmp_path_factory.mktemp("build"))
    assert done.returncode == 0, done.stderr
    return venv / "bin"


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DEFDIP_README_EXAMPLES"),
                    reason="runs every README example for about 15 min; set DEFDIP_README_EXAMPLES=1 (CI does)")
def test_every_readme_example_runs_as_written(installed, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    for name, source in USER_FILES.items():
        (folder / name).write_bytes(source.read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{installed}{os.pathsep}{env['PATH']}"
    failures = []
    for command, status in readme_examples():
        if is_synopsis(command) or any(flag in command for flag in NEEDS_A_SERVICE):
            continue
        words = shlex.split(command)
        done = subprocess.run([str(installed / "defdip"), *words[1:]], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=1800)
        if done.returncode != status:
            failures.append(f"`{command}`: exit {done.returncode}, documented {status}: "
                            f"{done.stderr.strip().splitlines()[-1:]}")
    assert not failures, "\n".join(failures)
