"""Where the repository is, so scripts work from any folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]


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


def temporary_name(path: Path) -> Path:
    """The hidden name ``path`` is written under: ``.model.partial.keras`` for ``model.keras``.

    Every suffix is kept (``x.weights.h5`` -> ``.x.partial.weights.h5``), so writers
    that pick a format from the name (Keras, matplotlib) still work.
    """
    base, dot, suffixes = path.name.lstrip(".").partition(".")
    return path.with_name(f".{base}.partial" + (f".{suffixes}" if dot else ""))


def fsync_file(path: str | os.PathLike) -> None:
    """Push a written file's bytes to the disk, so a rename never publishes an empty file."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_folder(path: str | os.PathLike) -> None:
    """Make a rename inside ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write a file through ``write(temporary)``, flush it to disk, then rename it into place.

    A kill at any instant leaves either the previous complete file or the new
    complete one, never a partial file or a change to what was there.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        write(temporary)
        fsync_file(temporary)
        os.replace(temporary, path)
        fsync_folder(path.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def check_writable(path: str | os.PathLike, option: str) -> Path:
    """Refuse an output file that cannot be written, before any long work is done.

    The nearest existing folder above ``path`` must be a folder in which a file
    can be created (tried for real: permission bits alone say nothing for root
    or read-only mounts); an existing ``path`` must not be a folder.
    """
    from asna.core.errors import UserError

    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder; {option} wants a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{path}: cannot write here ({folder} is not a folder); {option} wants a writable path")
    try:
        import tempfile

        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(f"{path}: cannot write here ({error.strerror or error}); "
                        f"{option} wants a writable path") from None
    return path


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """``X.json`` beside ``X.keras``: what evaluation needs to know about a trained model."""
    return Path(model_path).with_suffix(".json")
