"""The README's "Score a pair" commands, run as typed on the files ``make demo`` leaves.

The fenced blocks under that heading are read from README.md itself, so the test follows
the page: a scratch folder stands for the checkout after ``make demo`` (the repository's
entries linked in, ``.venv`` the environment running the tests, and the demo's
full-resolution test folder built by the real generator, smaller), and each block runs in
bash from there, the Python block through the activated environment's ``python``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SCORE_LINE = re.compile(r"^Image Quality Score: (-?\d+\.\d+)", re.MULTILINE)
PRINTED_FLOAT = re.compile(r"^(-?\d+\.\d+)\s*$", re.MULTILINE)
DEMO_IMAGES = re.compile(r"data/synthetic/full_test/(?:Ref|Dis)/[\w.]+")


def quick_start_blocks() -> list[tuple[str, str]]:
    """``(language, text)`` of each fenced block in the README's "Score a pair" section."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Score a pair\n", 1)[1].split("\n## ", 1)[0]
    return [(match.group(1), match.group(2)) for match in FENCE.finditer(section)]


def test_the_section_names_a_shell_block_and_a_python_block_on_the_demo_images():
    blocks = quick_start_blocks()
    assert [language for language, _ in blocks] == ["bash", "python"]
    for _, block in blocks:
        assert DEMO_IMAGES.search(block), "the quick start should score images that make demo leaves"


@pytest.fixture(scope="module")
def checkout_after_demo(tmp_path_factory) -> Path:
    """A scratch checkout: the repository's entries linked in, .venv, and data/synthetic/full_test."""
    if not (Path(sys.prefix) / "bin" / "activate").is_file():
        pytest.skip("the tests do not run in a virtual environment, so there is no .venv/bin/activate to source")
    from asna.data import full_resolution

    folder = tmp_path_factory.mktemp("checkout")
    for entry in REPO_ROOT.iterdir():
        if entry.name not in {".venv", "data", "runs", ".git"}:
            (folder / entry.name).symlink_to(entry)
    (folder / ".venv").symlink_to(Path(sys.prefix))
    named = {match.group(0) for _, block in quick_start_blocks() for match in DEMO_IMAGES.finditer(block)}
    types = sorted({int(name.rsplit("/", 1)[1].split("_")[1]) for name in named if "/Dis/" in name})
    full_resolution.build_full_resolution(folder / "data" / "synthetic", type_ids=types, max_side=96)
    for name in named:
        assert (folder / name).is_file(), f"the demo's generator did not write {name}"
    return folder


def run_block(block: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", "-e", "-c", block], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


@pytest.mark.slow
def test_the_quick_start_runs_as_typed(checkout_after_demo):
    (_, shell), (_, python) = quick_start_blocks()
    printed = run_block(shell, checkout_after_demo).stdout
    scores = [float(value) for value in SCORE_LINE.findall(printed)]
    assert len(scores) == 1 and 0.0 < scores[0] < 6.0, printed

    printed = run_block(f". .venv/bin/activate\npython - <<'PYTHON'\n{python}PYTHON\n", checkout_after_demo).stdout
    values = [float(value) for value in PRINTED_FLOAT.findall(printed)]
    assert len(values) == 1 and 0.0 < values[0] < 6.0, printed
