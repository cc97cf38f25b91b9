"""Quiet by default: scripts and console commands print their own lines, not TensorFlow's log.

``asna.core.quiet`` must run before anything imports TensorFlow, so every entry
point is read for the call's place, and real runs (a script, a console command)
are checked for TensorFlow's lines with and without ``ASNA_VERBOSE=1``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from asna.core import quiet
from conftest import REPO_ROOT
from tiny_models import IMAGE_SIZE, noisy_pairs, tiny_trained_model

ENTRY_FOLDERS = (".", "prepare_dataset", "ranking_model", "benchmarks", "examples")
CHATTER_MARKS = ("I0000", "E0000", "W0000", "absl::InitializeLog", "oneDNN", "cuInit", "cudart",
                 "cpu_feature_guard", "remapper")


def entry_points() -> list[Path]:
    """Every Python script a user runs: the top-level ones and those of the script folders."""
    found = []
    for folder in ENTRY_FOLDERS:
        found += sorted(path for path in (REPO_ROOT / folder).glob("*.py") if path.name != "setup.py")
    return found


def first_lines(path: Path) -> tuple[int | None, int | None]:
    """Line of the ``quiet_tensorflow()`` call and of the first other import of asna, keras or tensorflow."""
    call = other = None
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "id", None) == "quiet_tensorflow":
            call = call or node.lineno
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(name.split(".")[0] in ("asna", "keras", "tensorflow") and name != "asna.core.quiet"
               for name in names):
            other = other or node.lineno
    return call, other


@pytest.mark.parametrize("script", entry_points(), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_script_quietens_tensorflow_before_importing_the_package(script):
    call, other = first_lines(script)
    assert call is not None, f"{script.name} never calls quiet_tensorflow()"
    assert other is None or call < other, f"{script.name} imports the package before quiet_tensorflow()"


def test_the_console_commands_quieten_tensorflow():
    from asna.api import console

    source = Path(console.__file__).read_text()
    for name in ("score_pair", "score_folder", "evaluate"):
        body = ast.get_source_segment(source, next(node for node in ast.parse(source).body
                                                   if isinstance(node, ast.FunctionDef) and node.name == name))
        assert "quiet_tensorflow()" in body.splitlines()[2], name  # first statement after the docstring


def test_silenced_stderr_drops_the_chatter_and_keeps_the_rest(capfd):
    with quiet.silenced_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1796514969.210402    6364 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"W0000 00:00:1796514969.210402    6364 some_op.cc:12] a notice\n")
        os.write(2, b"E0000 00:00:1796514969.210402    6364 loader.cc:7] a real failure\n")
        print("a Python warning", file=sys.stderr)
    kept = capfd.readouterr().err.splitlines()  # (pytest's sys.stderr is not descriptor 2: order may differ)
    assert sorted(kept) == ["E0000 00:00:1796514969.210402    6364 loader.cc:7] a real failure", "a Python warning"]


def test_silenced_stderr_gives_everything_back_when_the_import_fails(capfd):
    with pytest.raises(ImportError), quiet.silenced_stderr():
        os.write(2, b"I0000 00:00:1.0    1 port.cc:153] context of the failure\n")
        raise ImportError("no such library")
    assert "context of the failure" in capfd.readouterr().err


@pytest.fixture(scope="module")
def scored_pair(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A tiny model and one pair of image files."""
    model = tiny_trained_model(tmp_path_factory.getbasetemp())
    folder = tmp_path_factory.mktemp("quiet_pair")
    references, distorted = noisy_pairs(1, size=IMAGE_SIZE * 2)
    paths = folder / "ref.png", folder / "dis.png"
    for path, image in zip(paths, (references[0], distorted[0])):
        assert cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))
    return model, *paths


def run(command: list[str], verbose: bool) -> subprocess.CompletedProcess:
    """``command`` with a user's environment: no TF_CPP_MIN_LOG_LEVEL of the test session's."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_CPP_MIN_LOG_LEVEL", quiet.VERBOSE_VARIABLE)}
    if verbose:
        environment[quiet.VERBOSE_VARIABLE] = "1"
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=environment)


def chatter(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines()
            if any(mark in line for mark in CHATTER_MARKS)]


@pytest.mark.slow
def test_a_script_prints_its_score_and_nothing_of_tensorflow_unless_asked(scored_pair):
    model, reference, distorted = scored_pair
    command = [sys.executable, str(REPO_ROOT / "evaluation_single_image.py"), "--models", str(model),
               "--ref", str(reference), "--distorted", str(distorted), "--tta", "none"]
    quiet_run = run(command, verbose=False)
    assert quiet_run.returncode == 0, quiet_run.stderr
    assert chatter(quiet_run) == []
    assert quiet_run.stderr == ""
    assert "Image Quality Score:" in quiet_run.stdout
    loud = run(command, verbose=True)
    assert loud.returncode == 0, loud.stderr
    assert any("I0000" in line for line in chatter(loud)), loud.stderr  # the import's own lines are back
    assert loud.stdout == quiet_run.stdout


@pytest.mark.slow
def test_a_console_command_is_quiet_too(scored_pair):
    model, reference, distorted = scored_pair
    code = ("import sys; from asna.api.console import score_pair; "
            f"sys.argv = ['asna-score', {str(reference)!r}, {str(distorted)!r}, '--models', {str(model)!r}]; "
            "score_pair()")
    result = run([sys.executable, "-c", code], verbose=False)
    assert result.returncode == 0, result.stderr
    assert chatter(result) == [] and result.stderr == ""
    assert "Image Quality Score:" in result.stdout
