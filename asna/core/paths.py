"""Paths: where the repository is, and how outputs are written without losing anything.

Atomic writes (through links, never over FIFOs or devices), checks on output paths
before long work, and the refusal of an output that names one of the command's inputs.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Callable, Iterable

from asna.core.errors import UserError

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


def _partial_name(path: Path, mark: str) -> str:
    """``.<base>.<mark>.<suffixes>``: every suffix kept, so writers that pick a format from the name still work."""
    base, dot, suffixes = path.name.lstrip(".").partition(".")
    return f".{base}.{mark}" + (f".{suffixes}" if dot else "")


def temporary_name(path: Path) -> Path:
    """A hidden name of this writer's own to write ``path`` under: ``.model.partial-<pid>-<hex>.keras``.

    Every suffix is kept (``x.weights.h5`` -> ``.x.partial-<pid>-<hex>.weights.h5``), so writers
    that pick a format from the name (Keras, matplotlib) still work. The process id and a random
    part make the name differ between writers, so two processes writing the same file at once
    each publish a complete file (the last rename wins) instead of writing into one another's.
    """
    return path.with_name(_partial_name(path, f"partial-{os.getpid()}-{secrets.token_hex(4)}"))


def temporary_pattern(path: Path) -> str:
    """The glob pattern (in ``path``'s folder) of every temporary name ``temporary_name`` gives ``path``."""
    return _partial_name(path, "partial-*")


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


def write_target(path: str | os.PathLike) -> Path:
    """The file a write to ``path`` must replace: a symbolic link's target, never the link itself.

    Anything there that is not a regular file (a FIFO, a device such as
    /dev/null, a socket, a folder) is refused: replacing it by a regular file
    would destroy it, and writing into it is not atomic.
    """
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as error:
        raise UserError(f"{path}: cannot write here ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{path}: is {describe_mode(mode)}, not a regular file; give a file name to write")
    return target


def describe_mode(mode: int) -> str:
    """``a folder``, ``a FIFO``, ``a character device``... for the one-line refusals."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def write_failure(path: str | os.PathLike, error: OSError, kept: bool) -> UserError:
    """One line for an output that could not be written (full disk, size limit, no permission)."""
    reason = os.strerror(error.errno) if error.errno else str(error).splitlines()[0]
    return UserError(f"{path}: cannot write the file ({reason}); "
                     f"{'the earlier file is kept' if kept else 'nothing was written'}")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write a file through ``write(temporary)``, flush it to disk, then rename it into place.

    A kill at any instant leaves either the previous complete file or the new
    complete one, never a partial file or a change to what was there. A
    symbolic link is written through (its target is replaced, the link stays);
    a FIFO or a device is refused. A full disk or any other OS error is one
    ``UserError`` naming the file, and what was there is kept.
    """
    path = write_target(path)
    kept = path.exists()
    temporary = temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(temporary)
        fsync_file(temporary)
        os.replace(temporary, path)
        fsync_folder(path.parent)
    except OSError as error:
        raise write_failure(path, error, kept) from None
    finally:
        temporary.unlink(missing_ok=True)
    return path


def check_writable(path: str | os.PathLike, option: str) -> Path:
    """Refuse an output file that cannot be written, before any long work is done.

    The nearest existing folder above ``path`` must be a folder in which a file
    can be created (tried for real: permission bits alone say nothing for root
    or read-only mounts); an existing ``path`` must be a regular file (or a
    link to one), never a folder, a FIFO or a device.
    """
    import tempfile

    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder; {option} wants a file name")
    target = write_target(path)
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{path}: cannot write here ({folder} is not a folder); {option} wants a writable path")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(f"{path}: cannot write here ({error.strerror or error}); "
                        f"{option} wants a writable path") from None
    return path


Named = tuple[str, "str | os.PathLike | None"]
"""An option and the path it names (None: not given)."""


def file_identity(path: str | os.PathLike) -> tuple:
    """What makes two names one file: device and inode where it exists (links, hard links), else the real path."""
    try:
        status = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    return ("inode", status.st_dev, status.st_ino)


def refuse_overlaps(outputs: Iterable[Named], inputs: Iterable[Named]) -> None:
    """Refuse, before any work, an output that names an input of the same command or another output.

    Names are compared as files (resolved links, hard links), so ``--figure``
    given as the reference image, or ``--csv`` as the label file, is refused
    instead of destroying the input.
    """
    read: dict[tuple, Named] = {}
    for option, path in inputs:
        if path is not None:
            read.setdefault(file_identity(path), (option, path))
    written: dict[tuple, Named] = {}
    for option, path in outputs:
        if path is None:
            continue
        identity = file_identity(path)
        if identity in read:
            other_option, other = read[identity]
            raise UserError(f"{path}: {option} is the input {other_option} ({other}); an output is never "
                            f"written over an input, choose another {option}")
        if identity in written:
            other_option, _ = written[identity]
            raise UserError(f"{path}: {option} and {other_option} name the same file; give each output its own")
        written[identity] = (option, path)


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """``X.json`` beside ``X.keras``: what evaluation needs to know about a trained model."""
    return Path(model_path).with_suffix(".json")
