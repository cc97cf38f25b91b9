"""Keras callbacks that never lose work: a NaN stop and an atomic best-model / resume checkpoint.

Keras' own ``ModelCheckpoint`` and ``BackupAndRestore`` write in place and
back up an epoch whatever its loss, so a kill during a write or one NaN epoch
could leave a truncated best model or a state that NaNs on every resume.
Here an epoch is saved only when its training and validation losses are
finite, and every file is written under a temporary name, flushed, then
renamed (``asna.core.paths.atomic_write``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from asna.core.paths import atomic_write
from asna.training.run_state import RunState, read_state, write_state


def _finite(value: Any) -> bool:
    return value is not None and bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))


class FiniteLossGuard(keras.callbacks.Callback):
    """Stop at the first batch whose loss is not finite, and remember where.

    Put it before ``AtomicCheckpoint``: an epoch that failed here is never saved.
    """

    def __init__(self, monitor: str = "val_loss"):
        super().__init__()
        self.monitor = monitor
        self.failure: str | None = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if self.failure is None and loss is not None and not _finite(loss):
            self.failure = f"the training loss became {float(np.asarray(loss))} in epoch {self.epoch + 1}, " \
                           f"batch {batch + 1}"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for key in ("loss", self.monitor):
            if self.failure is None and key in logs and not _finite(logs[key]):
                self.failure = f"{key} became {logs[key]} in epoch {epoch + 1}"
                self.model.stop_training = True


class AtomicCheckpoint(keras.callbacks.Callback):
    """Best model, log and resume state, written atomically after each finite epoch.

    ``best_path``: the best model on ``monitor`` (a ``.keras`` file).
    ``state_folder``: weights + optimiser state and ``state.json`` (see
    ``asna.training.run_state``). ``log_path``: one CSV row per saved epoch.
    ``extra``: stored in the state (what a resume must match).
    ``before_best`` runs once before the first best model is written (its
    sidecar); ``before_state(epochs)`` before every state save, with the
    number of epochs that save commits (the run's config, the final curves).
    ``resume``: go on from the saved state (one of 0 epochs starts afresh).

    An epoch's save writes, in this order: the best model (when it improved),
    the log, what ``before_state`` writes, the weights, then ``state.json``,
    which commits the epoch. A kill before that last rename leaves the
    previous epoch committed; the files already replaced are then one epoch
    ahead, and a resume redoes that epoch and writes them again. On resume,
    weights and optimiser state are restored when training begins and the log
    is rewritten from the state's rows, dropping a row of the cut-short save.
    """

    def __init__(self, guard: FiniteLossGuard, best_path: str | Path, state_folder: str | Path,
                 log_path: str | Path, resume: bool, extra: dict[str, Any] | None = None,
                 monitor: str = "val_loss", before_best: Callable[[], None] | None = None,
                 before_state: Callable[[int], None] | None = None):
        super().__init__()
        self.guard = guard
        self.best_path, self.state_folder, self.log_path = Path(best_path), Path(state_folder), Path(log_path)
        self.monitor = monitor
        self.extra = extra or {}
        self.before_best, self.before_state = before_best, before_state
        state = read_state(self.state_folder) if resume else None
        self.state = state if state is not None and state.epochs > 0 else None  # 0 epochs: nothing to restore
        self.best = self.state.best if self.state else None
        self.rows: list[dict[str, Any]] = list(self.state.log) if self.state else []
        self.saved_epochs = self.state.epochs if self.state else 0

    @property
    def initial_epoch(self) -> int:
        return self.state.epochs if self.state else 0

    def on_train_begin(self, logs=None):
        if self.state is None:
            return
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(self.state_folder / self.state.weights))
        atomic_write(self.log_path, self._write_log)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        value = logs.get(self.monitor)
        if self.guard.failure is not None or not _finite(logs.get("loss")) or not _finite(value):
            return
        value = float(value)
        if self.best is None or value < self.best:
            if self.best is None and self.before_best is not None:
                self.before_best()
            atomic_write(self.best_path, lambda temporary: self.model.save(str(temporary)))
            self.best = value
        self.rows.append({"epoch": epoch, **{key: _number(item) for key, item in sorted(logs.items())}})
        atomic_write(self.log_path, self._write_log)
        if self.before_state is not None:
            self.before_state(epoch + 1)
        weights = f"epoch_{epoch + 1:04d}.weights.h5"
        atomic_write(self.state_folder / weights, lambda temporary: self.model.save_weights(str(temporary)))
        write_state(self.state_folder, RunState(epoch + 1, self.best, weights, self.rows, self.extra))
        self.saved_epochs = epoch + 1

    def _write_log(self, temporary: Path) -> None:
        columns = list(dict.fromkeys(key for row in self.rows for key in row))
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)


def _number(value: Any) -> float | str:
    """A log value as a plain number for CSV and JSON."""
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        return str(value)


def nan_stop_message(guard: FiniteLossGuard, checkpoint: AtomicCheckpoint, setting: str,
                     resume: str = "--resume") -> str:
    """The one-line error after a NaN stop: where it happened, what is kept, what to lower.

    ``resume``: how the user continues the run (the ranker continues with the same arguments).
    """
    if checkpoint.saved_epochs:
        kept = (f"epoch {checkpoint.saved_epochs}, the last finite one, is saved; continue it with "
                f"{resume} and a lower {setting}")
    else:
        kept = f"no epoch finished with finite losses, so no model was saved; start again with a lower {setting}"
    return f"training stopped: {guard.failure}; {kept}"
