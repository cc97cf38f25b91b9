"""Where the repository is, so scripts work from any folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[1]


def resolve_repo_path(path: str) -> str:
    """A relative path that does not exist here but does in the repository, made absolute.

    Lets ``ranking_model = ranking_model/ranker.keras`` work when a user starts a
    script from another folder, while paths that exist as given keep priority.
    """
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return path
    in_repo = REPO_ROOT / candidate
    return str(in_repo) if in_repo.exists() else path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write a file through ``write(temporary)``, then rename it into place.

    An interrupted or failed write leaves neither a partial file nor a change to
    what was there. The temporary name keeps the suffix, so writers that pick a
    format from it (matplotlib) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """``X.json`` beside ``X.keras``: what evaluation needs to know about a trained model."""
    return Path(model_path).with_suffix(".json")
