"""What a training run has saved so far, and the checks made before a run touches its folder.

No TensorFlow here: ``--resume`` and ``--overwrite`` are checked in full (config,
data, image size, saved state) before TensorFlow loads and before anything of
an earlier run is deleted or rewritten.

The saved state of a run is a folder holding ``state.json`` and the weights
file it names (model weights and optimiser state of the last finished finite
epoch). ``state.json`` is replaced last, so it always names a complete file.

``state.json`` is also the run's commit point. A run that starts from its
first epoch writes a state of 0 finished epochs before anything else, so a
folder that holds any file of a run also holds its state: with 0 epochs
nothing was kept and the folder may be started afresh or resumed (both begin
at the first epoch); with more, ``--resume`` continues. docs/reliability.md
lists every write in order and what a kill between two of them leaves.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from asna.core.errors import UserError
from asna.core.paths import atomic_write, sidecar_path, temporary_pattern

STATE_FILE = "state.json"


class RunFiles:
    """Names of everything a training run writes beside its model."""

    def __init__(self, model_path: str):
        self.model = Path(model_path)
        if self.model.suffix != ".keras":
            raise UserError(f"training.model_path {model_path!r} must end in .keras")
        self.folder = self.model.parent
        self.info = sidecar_path(self.model)
        self.config = self.folder / "config.txt"
        self.log = self.folder / "log.csv"
        self.curves = self.folder / "training_curves.png"
        self.backup = self.folder / "backup"
        self.tensorboard = self.folder / "tensorboard"


@dataclass
class RunState:
    """The last finished epoch whose losses were finite."""

    epochs: int  # finished epochs; training goes on at this epoch index
    best: float | None  # best monitored value so far (the kept model's)
    weights: str  # file name, in the state folder, of weights and optimiser state ("" with 0 epochs)
    log: list[dict[str, Any]] = field(default_factory=list)  # one row per finished epoch
    extra: dict[str, Any] = field(default_factory=dict)  # what the run must match to resume


def read_state(folder: str | os.PathLike) -> RunState | None:
    """The saved state in ``folder``, or None when there is none (or only an unreadable one)."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = RunState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise UserError(f"{path}: saved state is unreadable ({error}); start again with --overwrite") from None
    if state.weights and not (Path(folder) / state.weights).is_file():
        raise UserError(f"{path}: names {state.weights}, which is missing; start again with --overwrite")
    return state


def run_finished(state: RunState | None, epochs: int) -> bool:
    """Whether a saved run has trained all of its ``epochs`` (so resuming it has nothing left to do)."""
    return state is not None and state.epochs >= epochs


def write_state(folder: str | os.PathLike, state: RunState) -> None:
    """Replace ``state.json`` atomically, then drop weights files it no longer names."""
    folder = Path(folder)
    atomic_write(folder / STATE_FILE, lambda temporary: temporary.write_text(json.dumps(asdict(state), indent=1)))
    for old in folder.glob("*.weights.h5"):
        if old.name != state.weights:
            old.unlink(missing_ok=True)


def new_run_state(extra: dict[str, Any]) -> RunState:
    """The state a run commits before it writes anything else: nothing finished, nothing kept."""
    return RunState(0, None, "", [], extra)


def keeps_a_run(files: RunFiles, state: RunState | None) -> bool:
    """Whether the folder holds something a fresh start would lose.

    A state with finished epochs does. With no state at all, a best model does
    too (a run of an earlier version, or one whose ``backup/`` was deleted). A
    state of 0 epochs does not: the files beside it, if any, come from a first
    epoch whose save was cut short.
    """
    return state.epochs > 0 if state is not None else files.model.exists()


def remove_stale_temporaries(paths: list[Path], folders: list[Path]) -> None:
    """Delete the temporary files an interrupted write left: those of ``paths``, and every one in ``folders``.

    ``asna.core.paths.atomic_write`` removes its temporary file itself unless the
    process is killed; the next start removes what a kill left.
    """
    for path in paths:
        for stale in path.parent.glob(temporary_pattern(path)):
            stale.unlink(missing_ok=True)
    for folder in folders:
        if folder.is_dir():
            for stale in folder.glob(".*.partial*"):
                if stale.is_file():
                    stale.unlink(missing_ok=True)


def differing_keys(saved: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Keys whose values differ between two flat dicts, sorted."""
    return sorted(key for key in set(saved) | set(wanted) if saved.get(key) != wanted.get(key))


def check_image_size(path: str, image_size: int, option: str) -> int:
    """The pair count of a prepared file whose images are ``image_size`` px; refuse other sizes."""
    from asna.data.layout import open_pairs

    with open_pairs(path) as handle:
        count, size = int(handle["x"].shape[0]), int(handle["x"].shape[2])
    if size != image_size:
        raise UserError(f"{path}: images are {size} x {size} px but model.image_size is {image_size}; "
                        f"set {option}={size} or prepare the data at {image_size} px")
    return count


def check_training_run(config: Any, files: RunFiles, resume: bool, overwrite: bool) -> None:
    """Every check a training run can make before TensorFlow loads and before it touches its folder.

    Data files, image size against the data, one full batch, the output
    folder, and for ``--resume`` the saved state and its ``[model]`` section.
    A folder whose state has 0 finished epochs keeps nothing: it is accepted
    both with and without ``--resume``, and either way training starts at the
    first epoch.
    """
    from asna.core.paths import check_writable, refuse_overlaps

    data, training = config.data, config.training
    for split in ("train", "val"):
        if not os.path.isfile(getattr(data, split)):
            raise UserError(f"{getattr(data, split)}: data.{split} file not found "
                            f"(make it with a script in prepare_dataset/)")
    count = check_image_size(data.train, config.model.image_size, "model.image_size")
    val_count = check_image_size(data.val, config.model.image_size, "model.image_size")
    if count < training.batch_size:
        raise UserError(f"{data.train}: {count} pairs make no full batch of {training.batch_size}; "
                        f"lower training.batch_size")
    if config.loss.ranker == "learned" and val_count < training.batch_size:
        raise UserError(f"{data.val}: {val_count} pairs make no full batch of {training.batch_size}, which "
                        f"the learned ranker's validation loss needs; use more validation pairs or a "
                        f"smaller training.batch_size")
    if resume and overwrite:
        raise UserError("--resume and --overwrite exclude each other: continue the run or start again")
    model, backup = files.model, files.backup
    check_writable(model, "training.model_path")
    refuse_overlaps([("training.model_path", path) for path in (model, files.info, files.log, files.config,
                                                                files.curves)],
                    [("data.train", data.train), ("data.val", data.val),
                     ("training.init_weights", training.init_weights or None)])
    if overwrite:
        return
    state = read_state(backup)
    if resume:
        if state is None:
            raise UserError(f"{backup}: no saved state to resume from (train without --resume first)")
        if state.epochs == 0:
            return
        changed = differing_keys(state.extra.get("model", {}), config.model.as_dict())
        if changed:
            raise UserError(f"{backup}: the saved run has another [model] ({', '.join(changed)} differ); "
                            f"resume with the saved config.txt or start again with --overwrite")
        if run_finished(state, training.epochs):
            raise UserError(f"{backup}: the run has already finished {state.epochs} epoch(s); "
                            f"raise training.epochs above {state.epochs} to go on")
    elif keeps_a_run(files, state):
        raise UserError(f"{model.parent}: a run is already there; pass --resume to continue it "
                        f"or --overwrite to start again (or set training.model_path)")
