"""ASNA as a Keras loss: minus a frozen trained network's score of (reference, restored) batches.

For training restoration networks the way LPIPS is used: the loss runs the
trained ASNA network(s) on the reference and the restored image, with frozen
weights, and is differentiable with respect to the restored image. The saved
networks take uint8 pixels (a cast no gradient passes through), so the loss
calls a float view of each: the same layers and weights behind float32
inputs, fed ``255 * image``.

Any image size the network can take: a network with a fixed input size S gets
S x S tiles cut inside the graph, evenly spaced and overlapping where a side is
not a multiple of S (the tiles ``Metric.score`` averages with ``fit="tile"``),
and the per-image score is their mean; a network whose input has no fixed size
(a fully convolutional head) is called on the whole batch, sides a multiple of
16.

The tiles are always pooled by their plain mean, whatever ``Metric``'s
``pool=`` (``worst``, ``structure``): a loss wants every tile's gradient, and
the worse half of the tiles (``worst``) would pass gradient through half the
image only, switching halves as the restoration improves.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import keras
import tensorflow as tf

from asna.api.metric import check_choice, load_quietly, model_paths_or_default
from asna.core.errors import UserError
from asna.core.precision import PRECISIONS, resolve_precision
from asna.evaluation.scorer import inspect_models, tile_starts

FREE_SIZE_MULTIPLE = 16
"""Sides a free-size network takes: four halvings, then upsampling back onto the differences."""


def float_view(model: keras.Model, policy: str = "float32") -> keras.Model:
    """The network ``model`` behind float32 inputs in 0-255, its layers and weights shared, frozen.

    ``policy`` other than float32 rebuilds the network under that dtype policy
    first (``asna.core.precision.with_policy``: same weights, score head float32).
    """
    if policy != "float32":
        from asna.core.precision import with_policy

        model = with_policy(model, policy)
    inputs = [keras.Input(tuple(tensor.shape[1:]), dtype="float32", name=f"{tensor.name}_pixels")
              for tensor in model.inputs]
    view = keras.models.clone_model(model, input_tensors=inputs, clone_function=lambda layer: layer)
    view.trainable = False
    return view


@keras.saving.register_keras_serializable(package="asna")
class PerceptualLoss(keras.losses.Loss):
    """Minus the ASNA score of ``y_pred`` (restored) against ``y_true`` (reference): lower is better.

    Both are float image batches (B, H, W, 3) in [0, 1]. Per image the loss is
    ``-p``, where ``p`` is the network's standardised score (the MOS scale is
    ``p * std + mean`` of the sidecar), averaged over tiles and over the
    models of an ensemble; so the loss falls exactly as the metric's score
    rises, one unit per standard deviation of the training data's MOS. The
    reference must lie in [0, 1] (checked in the graph); the restored image is
    clipped to [0, 1], so values outside get no gradient from this term (pair it
    with a pixel loss, as restoration training usually does). A restored batch
    holding NaN or inf is refused instead of giving a NaN loss: a one-line
    ``UserError`` when called eagerly, an ``InvalidArgumentError`` naming the
    loss inside a compiled training step.

    ``models``: ``.keras`` files (with sidecars) or folders, default the
    shipped model in ``models/``; ``precision``: the dtype policy the frozen
    network computes in (``float32``, or ``mixed_bfloat16`` / ``mixed_float16``
    for speed). The networks' weights are never trained.
    """

    def __init__(self, models: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                 precision: str = "float32", reduction: str = "sum_over_batch_size",
                 name: str = "asna_perceptual", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        check_choice("precision", precision, PRECISIONS)
        infos = inspect_models(model_paths_or_default(models))
        self.model_paths = [str(info.path) for info in infos]
        self.precision = precision
        policy, _ = resolve_precision(precision)
        self.networks = [float_view(load_quietly(info), policy) for info in infos]

    @property
    def input_size(self) -> int | None:
        """The side of the networks' square input, or ``None`` for a free-size network."""
        return self.networks[0].inputs[0].shape[1]

    def call(self, y_true: Any, y_pred: Any) -> Any:
        _check_batch_shapes(y_true.shape, y_pred.shape)
        reference = _checked_reference(y_true)
        restored = tf.clip_by_value(_checked_finite(y_pred), 0.0, 1.0)
        scores = [network_scores(network, reference * 255.0, restored * 255.0) for network in self.networks]
        return -tf.reduce_mean(tf.stack(scores), axis=0)

    def get_config(self) -> dict:
        return {**super().get_config(), "models": self.model_paths, "precision": self.precision}


def _check_batch_shapes(reference: tf.TensorShape, restored: tf.TensorShape) -> None:
    """Refuse, while tracing, batches that are not (B, H, W, 3) pairs of one size."""
    if reference.rank != 4 or restored.rank != 4:
        raise UserError(f"PerceptualLoss: takes (B, H, W, 3) image batches, got {reference} and {restored}")
    if reference[-1] != 3 or restored[-1] != 3:
        raise UserError(f"PerceptualLoss: images need 3 channels (RGB, channels last), got {reference} "
                        f"and {restored}")
    if not reference[1:3].is_compatible_with(restored[1:3]):
        raise UserError(f"PerceptualLoss: reference batch {reference} and restored batch {restored} "
                        f"differ in size")


RANGE_MESSAGE = ("PerceptualLoss: the reference batch (y_true) has values outside [0, 1]; the loss takes "
                 "float images in [0, 1] (uint8 / 255, or (x + 1) / 2 for [-1, 1] data)")


def _checked_reference(reference: tf.Tensor) -> tf.Tensor:
    """``reference``, after a check that it lies in [0, 1] (a one-line error when run eagerly)."""
    if tf.executing_eagerly():
        low, high = float(tf.reduce_min(reference)), float(tf.reduce_max(reference))
        if not (0.0 <= low and high <= 1.0):
            raise UserError(f"{RANGE_MESSAGE} (found [{low:.4g}, {high:.4g}])")
        return reference
    in_range = tf.logical_and(tf.reduce_min(reference) >= 0.0, tf.reduce_max(reference) <= 1.0)
    with tf.control_dependencies([tf.debugging.Assert(in_range, [RANGE_MESSAGE], summarize=1)]):
        return tf.identity(reference)


FINITE_MESSAGE = ("PerceptualLoss: the restored batch (y_pred) holds NaN or infinite values; the loss would "
                  "be NaN (look at the restoration network's output or its learning rate)")


def _checked_finite(restored: tf.Tensor) -> tf.Tensor:
    """``restored``, after a check that every value is finite.

    Clipping would pass NaN through and the loss would be NaN without a word;
    eagerly this is a one-line ``UserError``, inside a compiled training step
    an ``InvalidArgumentError`` that carries the same message.
    """
    finite = tf.reduce_all(tf.math.is_finite(restored))
    if tf.executing_eagerly():
        if not bool(finite):
            raise UserError(FINITE_MESSAGE)
        return restored
    with tf.control_dependencies([tf.debugging.Assert(finite, [FINITE_MESSAGE], summarize=1)]):
        return tf.identity(restored)


def network_scores(network: keras.Model, reference: tf.Tensor, restored: tf.Tensor) -> tf.Tensor:
    """(B,) standardised scores of 0-255 float batches: tiles for a fixed input, else the whole image."""
    size = network.inputs[0].shape[1]
    if size is None:
        _check_free_size(reference.shape)
        return tf.cast(tf.reshape(network([reference, restored], training=False), (-1,)), tf.float32)
    tiles_reference, count = cut_tiles_in_graph(reference, size)
    tiles_restored, _ = cut_tiles_in_graph(restored, size)
    per_tile = tf.cast(network([tiles_reference, tiles_restored], training=False), tf.float32)
    return tf.reduce_mean(tf.reshape(per_tile, (-1, count)), axis=1)


def _check_free_size(shape: tf.TensorShape) -> None:
    height, width = shape[1], shape[2]
    for side in (height, width):
        if side is not None and side % FREE_SIZE_MULTIPLE:
            raise UserError(f"PerceptualLoss: images are {width}x{height}; this network takes sides that "
                            f"are a multiple of {FREE_SIZE_MULTIPLE} (crop or pad the batch)")


def cut_tiles_in_graph(images: tf.Tensor, size: int) -> tuple[tf.Tensor, Any]:
    """``(B * T, size, size, 3)`` tiles covering each image, and T; differentiable.

    With a static height and width: the evenly spaced windows of
    ``asna.evaluation.scorer.tile_starts`` (one reshape when ``size`` divides
    both sides, slices otherwise). A batch of unknown size at trace time needs
    sides that are multiples of ``size``, checked when it runs.
    """
    height, width = images.shape[1], images.shape[2]
    if height is not None and width is not None:
        if height < size or width < size:
            raise UserError(f"PerceptualLoss: images are {width}x{height}, smaller than the network's "
                            f"{size}x{size} input")
        tops, lefts = tile_starts(height, size), tile_starts(width, size)
        if height % size or width % size:
            tiles = tf.stack([images[:, top:top + size, left:left + size, :] for top in tops for left in lefts],
                             axis=1)
            return tf.reshape(tiles, (-1, size, size, images.shape[-1])), len(tops) * len(lefts)
        return _grid_tiles(images, size, height // size, width // size), len(tops) * len(lefts)
    shape = tf.shape(images)
    divisible = tf.logical_and(shape[1] % size == 0, shape[2] % size == 0)
    with tf.control_dependencies([tf.debugging.Assert(divisible, [
            f"PerceptualLoss: a batch of unknown size at trace time needs sides that are multiples of the "
            f"network's input {size}", shape], summarize=4)]):
        rows, columns = shape[1] // size, shape[2] // size
        return _grid_tiles(images, size, rows, columns), rows * columns


def _grid_tiles(images: tf.Tensor, size: int, rows: Any, columns: Any) -> tf.Tensor:
    """Non-overlapping tiles by one reshape and transpose: (B, H, W, C) -> (B * rows * columns, S, S, C)."""
    channels = images.shape[-1]
    grid = tf.reshape(images, (-1, rows, size, columns, size, channels))
    grid = tf.transpose(grid, (0, 1, 3, 2, 4, 5))
    return tf.reshape(grid, (-1, size, size, channels))
