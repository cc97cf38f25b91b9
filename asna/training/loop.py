"""Training a network from a resolved config: data, loss, schedule, checkpoints, logs, resume.

Everything the four ``train_<network>.py`` scripts share lives here, so a
script only parses its arguments and names its network.
"""

from __future__ import annotations

import gc
import json
import math
import os
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from asna.core import metrics
from asna.core.config import Config, check_network
from asna.core.errors import UserError
from asna.core.paths import atomic_write, resolve_repo_path
from asna.core.precision import apply_precision
from asna.training.checkpoint import AtomicCheckpoint, FiniteLossGuard, nan_stop_message
from asna.training.distributed import (is_chief, make_strategy, patch_keras_for_multi_worker, task_index,
                                       without_auto_sharding, worker_input_context)
from asna.training.earlier_run import holds_earlier_run, set_aside, settle_earlier_run
from asna.training.earlier_run import report as report_earlier_run
from asna.training.run_state import (STATE_FILE, RunFiles, check_training_run, new_run_state, read_state,
                                     remove_stale_temporaries, write_state)

def step_decay(learning_rate: float, drop: float, every: int):
    """The original schedule: ``lr * drop ** floor((1 + epoch) / every)``."""
    def schedule(epoch: int, _current: float = 0.0) -> float:
        return float(learning_rate * drop ** math.floor((1 + epoch) / every))
    return schedule


class ValidationCorrelations(keras.callbacks.Callback):
    """SRCC, PLCC and the main score on the whole validation set after each epoch.

    Batch-averaged correlations are biased; these are computed once over every
    validation pair and added to the epoch's logs as ``val_srcc`` and friends.
    """

    def __init__(self, dataset: tf.data.Dataset, targets: np.ndarray):
        super().__init__()
        self.dataset = dataset
        self.targets = targets

    def on_epoch_end(self, epoch, logs=None):
        predictions = self.model.predict(self.dataset, verbose=0).reshape(-1)
        # Under a multi-worker strategy the last, partial batch comes back padded
        # to a full one: the predictions past the set's length are not pairs.
        predictions = predictions[: len(self.targets)]
        if not np.all(np.isfinite(predictions)):  # diverged: nothing to correlate, nothing is saved
            return
        scores = metrics.all_metrics(self.targets, predictions)
        if logs is not None:
            for key in ("srcc", "plcc", "main_score"):
                logs[f"val_{key}"] = scores[key]
        print(f"  validation on {len(self.targets)} pairs: SRCC {scores['srcc']:.4f}  "
              f"PLCC {scores['plcc']:.4f}  main score {scores['main_score']:.4f}")


def prepare_run_folder(files: RunFiles, resumed: bool, extra: dict) -> bool:
    """Make the run folder ready; call only once every check has passed.

    A run that starts at its first epoch (new, ``--overwrite``, or a resume of
    a run that finished none) first moves an earlier run aside
    (``asna.training.earlier_run``), commits a state of 0 finished epochs, and
    only then removes what an earlier attempt that saved nothing left. Every
    start also removes the temporary files a killed write left. Returns
    whether the run folder was created now (a run that saves nothing removes it again).
    """
    created = not files.folder.exists()
    files.folder.mkdir(parents=True, exist_ok=True)
    if not resumed:
        if holds_earlier_run(files):  # --overwrite: kept aside until the first epoch is saved
            set_aside(files)
        write_state(files.backup, new_run_state(extra))  # also drops an earlier attempt's weights files
        left = [files.tensorboard, *(entry for entry in files.backup.iterdir() if entry.name != STATE_FILE),
                files.model, files.log, files.info, files.curves, files.config]
        for path in left:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    remove_stale_temporaries([files.model, files.log, files.info, files.curves, files.config], [files.backup])
    return created


def forget_failed_run(files: RunFiles, created: bool) -> None:
    """After a run that saved no epoch: remove what it wrote, so nothing looks like a run.

    ``tensorboard/`` goes first and the state last, so a kill half-way leaves a
    folder that is still accepted as new.
    """
    shutil.rmtree(files.tensorboard, ignore_errors=True)
    (files.backup / STATE_FILE).unlink(missing_ok=True)
    shutil.rmtree(files.backup, ignore_errors=True)
    if created:
        try:
            files.folder.rmdir()
        except OSError:
            pass


def load_initial_weights(model: keras.Model, path: str) -> None:
    """Start from another run's weights (a ``.keras`` model or a ``.weights.h5`` file)."""
    path = resolve_repo_path(path)
    if not os.path.isfile(path):
        raise UserError(f"{path}: training.init_weights file not found")
    try:
        if path.endswith(".weights.h5"):
            model.load_weights(path)
        else:
            from asna.models import custom_objects

            source = keras.models.load_model(path, compile=False, custom_objects=custom_objects())
            model.set_weights(source.get_weights())
    except (ValueError, OSError) as error:
        raise UserError(f"{path}: cannot start from these weights "
                        f"({str(error).strip().splitlines()[0]})") from None
    print(f"started from the weights in {path}")


def compile_model(config: Config, init_weights: bool = True) -> keras.Model:
    """The configured network with Adam, the configured loss and the two logged metrics.

    Call inside the strategy's scope. ``init_weights``: load ``training.init_weights``
    when the config names a file. The train step augments each batch on the
    device as ``[data]`` says (``asna.data.augment``).
    """
    from asna.data import augment
    from asna.models import build_model
    from asna.training.losses import build_loss
    from asna.training.tf_metrics import abs_plcc_plus_abs_srcc, plcc_loss

    training = config.training
    model = build_model(config.model)
    if init_weights and training.init_weights:
        load_initial_weights(model, training.init_weights)
    model.compile(optimizer=keras.optimizers.Adam(training.learning_rate),
                  loss=build_loss(config.loss, training.batch_size),
                  metrics=[_named(plcc_loss, "one_minus_plcc2"),
                           _named(abs_plcc_plus_abs_srcc, "plcc_srcc")])
    augment.install(model, augment.AugmentSettings.from_config(config))
    return model


def build_datasets(config: Config, strategy: tf.distribute.Strategy, train_info, val_info, skip_batches: int = 0
                   ) -> tuple[tf.data.Dataset, tf.data.Dataset, tf.data.Dataset, bool]:
    """Training data, validation data (every pair) and the validation data the loss can take.

    Each worker reads its own shard in batches of the global batch size, which
    tf.distribute splits so every replica gets ``training.batch_size`` pairs;
    every worker scores the whole validation set, so all see the same correlations.
    ``skip_batches``: where a resumed run's input goes on.
    """
    from asna.data.pipeline import make_dataset

    training = config.training
    context = worker_input_context(strategy)
    multi_worker = context.num_input_pipelines > 1
    batch = training.batch_size * strategy.num_replicas_in_sync
    train_data = without_auto_sharding(make_dataset(
        config.data.train, batch, training=True, seed=training.seed, input_context=context,
        skip_batches=skip_batches, info=train_info))
    val_data = without_auto_sharding(make_dataset(config.data.val, batch, training=False, info=val_info))
    val_count = len(val_info)
    val_loss_data = val_data.apply(tf.data.experimental.assert_cardinality(math.ceil(val_count / batch)))
    if config.loss.ranker == "learned":  # the learned ranker needs full batches; correlations use all
        val_loss_data = val_data.filter(lambda images, y: tf.shape(y)[0] == batch).apply(
            tf.data.experimental.assert_cardinality(val_count // batch))
    return train_data, val_data, val_loss_data, multi_worker


def build_callbacks(config: Config, files: RunFiles, correlations: keras.callbacks.Callback,
                    guard: FiniteLossGuard, checkpoint: AtomicCheckpoint) -> list[keras.callbacks.Callback]:
    """Schedule, whole-set validation, NaN stop, checkpoint and TensorBoard, in that order.

    ``correlations`` comes before the guard and the checkpoint so its values
    reach the log; the guard before the checkpoint so a failed epoch is never saved.
    """
    training = config.training
    return [
        keras.callbacks.LearningRateScheduler(step_decay(
            training.learning_rate, training.learning_rate_drop, training.drop_learning_rate_after_epochs)),
        correlations,
        guard,
        checkpoint,
        keras.callbacks.TensorBoard(str(files.tensorboard), write_graph=False, profile_batch=0),
    ]


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and TensorFlow; with ``deterministic``, also use deterministic ops only."""
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)


def train(network: str, config: Config, resume: bool = False, overwrite: bool = False,
          checked: bool = False) -> Path:
    """Train ``network`` as the config says; returns the path of the best model.

    The dtype policy the run picks (``training.precision``) holds for the run
    only: the caller's global policy comes back afterwards, so models built or
    loaded later in the same process (evaluation, the next ablation cell) are
    not silently built in a half type.
    """
    previous = keras.mixed_precision.global_policy()
    try:
        return _train_run(network, config, resume, overwrite, checked)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _train_run(network: str, config: Config, resume: bool, overwrite: bool, checked: bool) -> Path:
    """The body of ``train``, run under the picked precision.

    Everything is checked before the run folder is touched; each epoch with
    finite losses is saved atomically (best model, log, resume state), and the
    first non-finite batch loss stops training before its epoch is saved. At
    every instant the folder is new or resumable (``prepare_run_folder``,
    ``AtomicCheckpoint``; the write order is in docs/reliability.md).
    """
    from asna.data.pipeline import file_info

    check_network(config, network)
    training = config.training
    files = RunFiles(training.model_path)
    if not checked:
        report_earlier_run(settle_earlier_run(files), files)
        check_training_run(config, files, resume, overwrite)
    strategy = make_strategy(training.distribute)  # first: multi-worker set-up must precede other ops
    if not is_chief():
        files = RunFiles(str(files.folder / f"worker_{task_index()}" / files.model.name))
    seed_everything(training.seed, training.deterministic)
    config.values["training"]["precision"] = apply_precision(training.precision)  # recorded as picked
    replicas = strategy.num_replicas_in_sync
    global_batch = training.batch_size * replicas
    train_info, val_info = file_info(config.data.train), file_info(config.data.val)
    steps = training.steps_per_epoch or len(train_info) // global_batch
    if steps < 1:
        raise UserError(f"{config.data.train}: {len(train_info)} pairs make no full batch of "
                        f"{global_batch}; lower training.batch_size")

    # A saved state of 0 epochs holds nothing to restore: such a resume starts afresh.
    saved = read_state(files.backup) if resume else None
    resumed = saved is not None and saved.epochs > 0
    with strategy.scope():
        model = compile_model(config, init_weights=not resumed)  # also checks the ranker and init weights
    guard = FiniteLossGuard()
    extra = {"model": config.model.as_dict(), "network": network}
    title = f"{network} — {config.source}"
    checkpoint = AtomicCheckpoint(
        guard, files.model, files.backup, files.log, resume=resumed, extra=extra,
        before_best=lambda: _write_model_info(files, config, train_info.standardization),
        before_state=lambda epochs: _write_run_record(files, config, title, final=epochs >= training.epochs))
    first_epoch = checkpoint.initial_epoch
    train_data, val_data, val_loss_data, multi_worker = build_datasets(
        config, strategy, train_info, val_info, skip_batches=first_epoch * steps)
    created = False
    try:
        created = prepare_run_folder(files, resumed, extra)  # the first change to the run folder
        if resume and not resumed:
            print(f"{files.backup}: no epoch was saved yet, so training starts at the first")
        callbacks = build_callbacks(config, files, ValidationCorrelations(val_data, val_info.y), guard, checkpoint)
        # an earlier run kept aside by --overwrite is dropped right after the first epoch's commit
        callbacks.insert(callbacks.index(checkpoint) + 1, keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: checkpoint.saved_epochs and settle_earlier_run(files)))
        print(f"training {network} on {len(train_info)} pairs ({steps} steps of {global_batch} per epoch, "
              f"{replicas} replica(s)), validating on {len(val_info)} pairs; writing to {files.folder}")
        if multi_worker:
            patch_keras_for_multi_worker(model)
        with strategy.scope():
            model.fit(train_data, epochs=training.epochs, initial_epoch=first_epoch, steps_per_epoch=steps,
                      validation_data=val_loss_data, callbacks=callbacks, shuffle=False,
                      verbose=1 if sys.stdout.isatty() else 2)
    except BaseException:  # an error, Ctrl-C or SIGTERM before the first save: the earlier run comes back
        if checkpoint.saved_epochs == 0:
            report_earlier_run(settle_earlier_run(files), files)
        raise
    failure = nan_stop_message(guard, checkpoint, "training.learning_rate") if guard.failure else None
    saved_epochs = checkpoint.saved_epochs
    # close the input generators now: left to interpreter exit, TensorFlow warns about them
    del model, callbacks, guard, checkpoint, train_data, val_data, val_loss_data
    gc.collect()
    if saved_epochs == 0:
        forget_failed_run(files, created)
        report_earlier_run(settle_earlier_run(files), files)
    elif failure is not None:  # stopped early, so still resumable: a kill here is cleaned at the next start
        _draw_curves(files, title)
    if failure is not None:
        raise UserError(failure)
    print(f"best model on validation loss: {files.model}; curves: {files.curves}")
    return files.model


def _named(function, name: str):
    """A metric function under the name Keras shows in logs."""
    def metric(y_true, y_pred):
        return function(y_true, y_pred)
    metric.__name__ = name
    return metric


def _write_run_record(files: RunFiles, config: Config, title: str, final: bool) -> None:
    """The run's config, saved with every epoch; with the last epoch's save, also the curves.

    The curves are drawn before the last epoch is committed, so a finished run
    writes nothing after its last commit: no temporary file can outlive it.
    """
    config.save(files.config)
    if final:
        _draw_curves(files, title)


def _draw_curves(files: RunFiles, title: str) -> None:
    """Loss and validation correlations per epoch, from the log."""
    from asna.core.plots import plot_training_curves

    plot_training_curves(files.log, files.curves, title=title)


def _write_model_info(files: RunFiles, config: Config,
                      standardization: dict[str, tuple[float, float]]) -> None:
    """What evaluation needs beside the model: the score scale of its training data."""
    info = {"network": config.model.network, "image_size": config.model.image_size, "head": config.model.head,
            "standardization": {k: list(v) for k, v in standardization.items()},
            "train_data": config.data.train, "config": str(files.config.name),
            "precision": config.training.precision}
    atomic_write(files.info, lambda temporary: temporary.write_text(json.dumps(info, indent=2)))
