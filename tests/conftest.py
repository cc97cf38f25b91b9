"""Shared test helpers: the repository root and running scripts as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


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


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
