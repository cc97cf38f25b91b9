"""``--overwrite`` without loss: the earlier run waits aside until the new one has saved an epoch.

An overwritten run is moved, entry by entry, into the hidden folder
``.earlier_run/`` of the run folder instead of being deleted. It is dropped
only once the new run has committed its first epoch (``backup/state.json``
with one epoch or more). If the new run stops before that (an error, a NaN,
Ctrl-C, SIGTERM), it is put back at once; after a ``kill -9`` the next start
of any training command puts it back before it checks anything.

Every step is a rename, and ``.earlier_run/moved.json`` (written first) lists
what was moved, so a kill at any instant of moving aside or putting back
leaves a state that the next start finishes. ``backup/`` (the commit point)
moves aside first and comes back last: while ``.earlier_run/backup`` exists,
the earlier run is not whole in the run folder.

No TensorFlow here: the next start recovers before TensorFlow loads.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from asna.core.errors import UserError
from asna.core.paths import atomic_write, fsync_folder
from asna.training.run_state import STATE_FILE, RunFiles, keeps_a_run, read_state

ASIDE = ".earlier_run"
MANIFEST = "moved.json"


def run_entries(files: RunFiles) -> list[Path]:
    """What a run keeps in its folder, ``backup/`` first (it moves aside first and comes back last)."""
    return [files.backup, files.model, files.info, files.log, files.config, files.curves, files.tensorboard]


def aside_folder(files: RunFiles) -> Path:
    return files.folder / ASIDE


def holds_earlier_run(files: RunFiles) -> bool:
    """Whether starting afresh would lose a run: one with saved epochs, or a best model without state."""
    try:
        state = read_state(files.backup)
    except UserError:  # an unreadable state: whatever is there is kept aside, not judged
        return True
    return keeps_a_run(files, state)


def set_aside(files: RunFiles) -> None:
    """Move the earlier run into ``.earlier_run/``; call once every check of the new run has passed."""
    aside = aside_folder(files)
    if aside.exists():
        raise UserError(f"{aside}: an earlier run is already kept here; start the command again to put it back")
    entries = [entry for entry in run_entries(files) if entry.exists() or entry.is_symlink()]
    aside.mkdir()
    atomic_write(aside / MANIFEST, lambda temporary: temporary.write_text(json.dumps([e.name for e in entries])))
    for entry in entries:
        os.replace(entry, aside / entry.name)
    fsync_folder(aside)
    fsync_folder(files.folder)


def settle_earlier_run(files: RunFiles) -> str | None:
    """Finish what a kept earlier run needs; returns ``"restored"``, ``"dropped"`` or None (nothing kept).

    The new run has committed an epoch: the earlier run is dropped. It has
    not: the earlier run is put back, replacing what the new run wrote.
    Safe to call at any instant and again after a kill part-way.
    """
    aside = aside_folder(files)
    if not aside.is_dir():
        return None
    moved = _manifest(aside)
    if moved is None or (files.backup.name in moved and not (aside / files.backup.name).exists()):
        shutil.rmtree(aside)  # nothing was moved yet, or all is back already
        return None
    if _saved_epochs(files.backup) >= 1:
        shutil.rmtree(aside)
        return "dropped"
    _put_back(files, aside, moved)
    return "restored"


def _put_back(files: RunFiles, aside: Path, moved: list[str]) -> None:
    """What the new run wrote goes; the earlier run's entries return, ``backup/`` last."""
    for entry in run_entries(files):
        if entry.name not in moved:
            _remove(entry)
    for name in sorted(moved, key=lambda name: name == files.backup.name):
        kept = aside / name
        if kept.exists() or kept.is_symlink():
            _remove(files.folder / name)
            os.replace(kept, files.folder / name)
    fsync_folder(files.folder)
    shutil.rmtree(aside)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _manifest(aside: Path) -> list[str] | None:
    try:
        names = json.loads((aside / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return [str(name) for name in names] if isinstance(names, list) else None


def _saved_epochs(backup: Path) -> int:
    """Epochs committed in ``backup/state.json``; 0 when there is none or it cannot be read."""
    try:
        return int(json.loads((backup / STATE_FILE).read_text()).get("epochs", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def report(outcome: str | None, files: RunFiles) -> None:
    """One line saying what became of a kept earlier run."""
    if outcome == "restored":
        print(f"{files.folder}: the earlier run is back in place (the run started with --overwrite "
              f"saved no epoch)")
