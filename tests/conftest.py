"""Shared test helpers: the repository root and running scripts as a user would."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


LONGEST_FIRST = ("test_faults.py", "test_training.py", "test_random_kills.py", "test_bad_inputs.py",
                 "test_learning.py", "test_seed_study.py", "test_end_to_end.py", "test_ablation.py",
                 "test_models.py", "test_evaluation.py", "test_quiet.py", "test_speed.py")
"""Files that take a minute or more, longest first (from ``make test``'s slowest tests and docs/tests.md)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest files first, the rest after them in their usual order.

    ``make test`` hands whole files to two workers in collection order (``--dist loadfile
    --no-loadscope-reorder``); a long file left to the end would run alone on one core while the
    other waits, which cost about three minutes of the 15 CI allows. Order only: no test changes.
    """
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def run_in_process(script: str, arguments: list[str], monkeypatch, capsys, cwd: Path) -> tuple[int, str, str]:
    """Run a script file in this process (TensorFlow is already loaded): exit code, stdout, stderr."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [script, *arguments])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(REPO_ROOT / script), run_name="__main__")
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def run_script(script: str, *arguments: str, cwd: Path | None = None,
               timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a repository script with this Python, capturing its output as text."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *arguments],
                          cwd=cwd or REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, env=environment)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The non-empty stderr lines, without TensorFlow's start-up chatter."""
    noise = ("WARNING: All log messages", "E0000", "I0000", "W0000", "To enable the following")
    return [line for line in result.stderr.splitlines()
            if line.strip() and not line.startswith(noise)]


@pytest.fixture(autouse=True)
def no_human_rated_folder(monkeypatch) -> None:
    """Tests never read the human-rated development folder a machine may have beside the repository;
    those that want one make a tiny folder and name it."""
    monkeypatch.setenv("ASNA_LIVE_DEV", "none")


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


def write_tiny_pairs(path: Path, count: int, image_size: int = 32, seed: int = 0,
                     source: str = "synthetic") -> Path:
    """A small prepared file whose score falls with the noise added to the distorted image.

    Real pixels and a learnable score, so training tests can see the loss move.
    """
    import numpy as np

    from asna.data.layout import PairWriter

    rng = np.random.default_rng(seed)
    with PairWriter(path, image_size, {source: (3.0, 1.0)}, split="train", split_seed=seed) as writer:
        for index in range(count):
            reference = rng.integers(0, 256, (image_size, image_size, 3), dtype=np.uint8)
            level = index % 5
            noise = rng.normal(0, 12 * level, reference.shape)
            distorted = np.clip(reference + noise, 0, 255).astype(np.uint8)
            writer.append(reference, distorted, 5.0 - level * 0.8, f"p{index:04d}.png",
                          f"ref{index // 5}", source)
    return path


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> tuple[Path, Path]:
    """Train and validation files of 96 and 40 pairs of 32 x 32 images."""
    folder = tmp_path_factory.mktemp("tiny_data")
    return (write_tiny_pairs(folder / "train.h5", 96, seed=1),
            write_tiny_pairs(folder / "val.h5", 40, seed=2))
