"""The package's layering: imports run one way (import-linter), and no module reaches into
another's private names."""
import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "src" / "defdip"


def test_the_import_linter_contract_is_kept():
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 kept, 0 broken" in done.stdout


def private_imports(path: Path) -> list[str]:
    """``from defdip.x import _name`` in a module: a private name taken across modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.name}:{node.lineno} {node.module}.{alias.name}"
            for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("defdip")
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]


def test_no_module_imports_a_private_name_from_another():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_imports(path)]
    assert found == []


def test_the_private_import_check_finds_one(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text("from defdip.core.model import __version__, public, _hidden\nfrom os import _exit\n")
    assert private_imports(fake) == ["fake.py:1 defdip.core.model._hidden"]
