"""Where the repository is, so scripts work from any folder."""

from __future__ import annotations

from pathlib import Path

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
