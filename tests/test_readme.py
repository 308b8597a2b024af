"""The README's command examples, read from its ```sh and ```bash blocks so the two cannot drift."""
import re
import shlex
from pathlib import Path

import pytest

from defdip.cli.main import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> list[str]:
    """Every ``defdip ...`` line of the README's shell blocks, continuation lines joined, comments dropped."""
    blocks = re.findall(r"^```(?:sh|bash)\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["defdip"]:
                commands.append(shlex.join(words))
    return commands


def test_the_readme_has_command_examples():
    assert len(readme_commands()) >= 15


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_is_accepted_by_the_parser(command):
    """Each example's options exist and take the values shown (a usage synopsis keeps its brackets)."""
    words = shlex.split(command)[1:]
    if any(w.startswith("[") for w in words):  # a synopsis: NAME, [--option ...]
        words = [w for w in words if not w.startswith("[") and not w.endswith("]") and w.isascii()]
        words = [w for w in words if not w.isupper() and w not in ("...",)]
    try:
        build_parser().parse_args(words)
    except SystemExit as exc:
        pytest.fail(f"README: `{command}` is refused by the parser (exit {exc.code})")
