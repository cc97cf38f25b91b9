"""Training the learned ranker: the original recipe and a faster one.

The original recipe (2,000,000 fixed vectors, 100 epochs, Adam 1e-3 dropped
x0.1 every 30 epochs, batch 1024) takes about a day on two CPU cores. Drawing
fresh vectors every epoch and decaying the learning rate along a cosine lets a
short run see as many distinct vectors as the long one without over-fitting.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from asna.core.errors import UserError
from asna.core.paths import atomic_write
from asna.ranker.data import make_rank_vectors
from asna.ranker.models import build_ranker
from asna.training.checkpoint import AtomicCheckpoint, FiniteLossGuard, nan_stop_message
from asna.training.run_state import STATE_FILE, differing_keys, read_state, remove_stale_temporaries


@dataclass
class RankerRecipe:
    """Everything that decides how a ranker is trained."""

    architecture: str = "original"
    num_data: int = 2_000_000
    length: int = 16
    epochs: int = 100
    batch_size: int = 1024
    learning_rate: float = 1e-3
    schedule: str = "step"  # "step": x0.1 every 30 epochs (original); "cosine": cosine decay to 0
    fresh_data: bool = False  # draw new training vectors every epoch
    val_fraction: float = 0.2
    seed: int = 0
    max_minutes: float = 0.0  # 0 = no time limit


class FreshRankVectors(keras.utils.PyDataset):
    """Batches of rank vectors; with ``fresh`` a new set is drawn after every epoch."""

    def __init__(self, num_vectors: int, length: int, batch_size: int, seed: int | list[int], fresh: bool):
        super().__init__()
        self.num_vectors, self.length, self.batch_size = num_vectors, length, batch_size
        self.fresh = fresh
        self.rng = np.random.default_rng(seed)
        self._draw()

    def _draw(self) -> None:
        self.vectors, self.ranks = make_rank_vectors(self.num_vectors, self.length, self.rng)

    def __len__(self) -> int:
        return math.ceil(self.num_vectors / self.batch_size)

    def __getitem__(self, index: int):
        window = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.vectors[window], self.ranks[window]

    def on_epoch_end(self) -> None:
        if self.fresh:
            self._draw()
        else:
            order = self.rng.permutation(self.num_vectors)
            self.vectors, self.ranks = self.vectors[order], self.ranks[order]


class StopAfterMinutes(keras.callbacks.Callback):
    """End training cleanly at the first epoch end after a wall-clock budget."""

    def __init__(self, minutes: float):
        super().__init__()
        self.seconds = minutes * 60.0
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if self.seconds > 0 and time.monotonic() - self.start > self.seconds:
            print(f"\ntime budget of {self.seconds / 60:.1f} min reached after epoch {epoch + 1}")
            self.model.stop_training = True


def learning_rate_for(recipe: RankerRecipe, steps_per_epoch: int):
    """The optimiser's learning rate (a schedule object for cosine decay)."""
    if recipe.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(recipe.learning_rate,
                                                      decay_steps=recipe.epochs * steps_per_epoch)
    return recipe.learning_rate


def step_decay_callback(recipe: RankerRecipe) -> keras.callbacks.Callback:
    """The original schedule: x0.1 every 30 epochs."""
    return keras.callbacks.LearningRateScheduler(
        lambda epoch: recipe.learning_rate * 0.1 ** (epoch // 30))


def train_ranker(recipe: RankerRecipe, out: str | os.PathLike, overwrite: bool = False) -> keras.Model:
    """Train a ranker and keep the best one on validation at ``out`` (``.keras``).

    Every finished epoch with finite losses is saved atomically in the hidden
    folder ``.<name>.backup`` beside ``out`` (best model, weights, optimiser
    state, log rows); ``out`` is replaced only when training ends, so an
    interrupted run never replaces a good ranker with a partly trained one.
    Started again with the same recipe, an interrupted run goes on from its last
    saved epoch, on the vectors the uninterrupted run would draw; with another
    recipe it is refused unless ``overwrite``. A run killed after its last epoch
    was saved is finished by the next start. The first non-finite batch loss
    stops training before its epoch is saved.
    """
    out = Path(out)
    state_folder = out.with_name(f".{out.stem}.backup")
    log = out.with_suffix(".log.csv")
    best = state_folder / "best.keras"
    wanted = {key: value for key, value in asdict(recipe).items() if key != "max_minutes"}
    state = None if overwrite else read_state(state_folder)
    if state is not None and state.extra.get("recipe") != wanted:
        changed = differing_keys(state.extra.get("recipe", {}), wanted)
        raise UserError(f"{state_folder}: an interrupted run with other settings ({', '.join(changed)}) "
                        f"is saved here; rerun with its settings to resume it or pass --overwrite")
    remove_stale_temporaries([out, log], [state_folder])
    if state is not None and state.epochs >= recipe.epochs:  # killed while it was being finished
        print(f"{state_folder}: all {state.epochs} epochs were already trained; keeping the best of them")
        return _finish(best, out, state_folder)
    if state is None:  # nothing to resume: clear what an earlier, different or unfinished run left
        _discard(state_folder)
    created = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(recipe.seed)
    num_val = int(recipe.num_data * recipe.val_fraction)
    num_train = recipe.num_data - num_val
    val_vectors, val_ranks = make_rank_vectors(num_val, recipe.length,
                                               np.random.default_rng(recipe.seed + 1))
    first_epoch = state.epochs if state else 0
    train_data = FreshRankVectors(num_train, recipe.length, recipe.batch_size,
                                  seed=recipe.seed + 2, fresh=recipe.fresh_data)
    for _ in range(first_epoch):  # the draws (or shuffles) of the finished epochs, in the same order
        train_data.on_epoch_end()
    model = build_ranker(recipe.architecture, recipe.length)
    optimizer = keras.optimizers.Adam(learning_rate_for(recipe, len(train_data)))
    model.compile(optimizer=optimizer, loss="mae")
    guard = FiniteLossGuard()
    checkpoint = AtomicCheckpoint(guard, best, state_folder, log, resume=state is not None,
                                  extra={"recipe": wanted})
    callbacks = [guard, checkpoint, StopAfterMinutes(recipe.max_minutes)]
    if recipe.schedule == "step":
        callbacks.insert(0, step_decay_callback(recipe))
    # shuffle=False: the vectors are drawn (or shuffled) anew each epoch by the data set itself, from its
    # own generator; Keras' batch shuffling would draw from Python's global state, which a resume cannot restore.
    model.fit(train_data, epochs=recipe.epochs, initial_epoch=first_epoch, shuffle=False,
              validation_data=(val_vectors, val_ranks), validation_batch_size=8192, callbacks=callbacks,
              verbose=1 if sys.stdout.isatty() else 2)
    if guard.failure is not None:
        message = nan_stop_message(guard, checkpoint, "--learning-rate", resume="the same arguments")
        if checkpoint.saved_epochs == 0:
            _discard(state_folder)
            if created:
                out.parent.rmdir()
        raise UserError(message)
    return _finish(best, out, state_folder)


def _finish(best: Path, out: Path, state_folder: Path) -> keras.Model:
    """Publish the best ranker at ``out``, then drop the saved state.

    Copied (not moved), so until the state is gone a kill leaves a state that
    still holds its best model, and the next start finishes the same way.
    """
    if best.is_file():
        atomic_write(out, lambda temporary: shutil.copyfile(best, temporary))
    elif not out.is_file():
        raise UserError(f"{state_folder}: the saved run holds no best model; start again with --overwrite")
    _discard(state_folder)
    return keras.models.load_model(out, compile=False)


def _discard(state_folder: Path) -> None:
    """Remove a saved state: ``state.json`` first, so a kill half-way never leaves one naming a deleted file."""
    (state_folder / STATE_FILE).unlink(missing_ok=True)
    shutil.rmtree(state_folder, ignore_errors=True)
