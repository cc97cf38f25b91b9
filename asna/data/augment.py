"""Training augmentation as TensorFlow ops inside the train step, on the training device.

The input pipeline only reads bytes; here each pair gets one of the 8
orientations of a square (both images the same) and, with probability
``data.intensity_probability``, its Lab lightness scaled by one factor from
U(0.3, 1.5) (both images the same factor), as the original trained on plain
pairs and scaled copies.

Why in the train step and not in tf.data or the saved model:

* on a GPU the work runs next to the network, so a fast accelerator is not
  starved by CPU-side Lab conversions (about 12 ms of CPU per 288 px pair);
* the randomness is a pure function of ``(training.seed, optimizer step,
  replica)`` through stateless random ops, so a resumed run (which restores
  the optimizer's step counter) draws exactly what an uninterrupted one would;
* the saved model is untouched: inference needs no switch, and models saved
  before or after load the same way.

The pixels equal the OpenCV path (``asna.data.images.scale_lightness``:
float sRGB <-> Lab, D65) to within one grey level: the conversions are the
same formulas, OpenCV only tabulates the sRGB gamma curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from asna.core.errors import UserError
from asna.data.images import LIGHTNESS_RANGE

ORIENTATIONS = 8  # the rotations and flips of a square

# sRGB (D65) to XYZ, with X and Z already divided by the white point, as OpenCV does
_RGB_TO_XYZ = ((0.412453 / 0.950456, 0.357580 / 0.950456, 0.180423 / 0.950456),
               (0.212671, 0.715160, 0.072169),
               (0.019334 / 1.088754, 0.119193 / 1.088754, 0.950227 / 1.088754))
_EPSILON = 0.008856  # (6/29)^3: where the cube root gives way to the linear segment
_KAPPA = 903.3


@dataclass(frozen=True)
class AugmentSettings:
    """What the train step does to each training pair."""

    orient: bool = True
    intensity: bool = False
    intensity_probability: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.intensity_probability <= 1.0:
            raise UserError(f"data.intensity_probability {self.intensity_probability}: "
                            f"must be between 0 and 1")

    @property
    def active(self) -> bool:
        return self.orient or (self.intensity and self.intensity_probability > 0)

    @classmethod
    def from_config(cls, config: Any) -> "AugmentSettings":
        """The ``[data]`` augmentation keys and ``training.seed`` of a resolved config."""
        return cls(orient=config.data.augment, intensity=config.data.intensity_augment,
                   intensity_probability=config.data.intensity_probability, seed=config.training.seed)


# ---------------------------------------------------------------- the transforms

def orient(images: tf.Tensor, codes: tf.Tensor) -> tf.Tensor:
    """Each (S, S, C) image of a batch in orientation ``codes[i]`` (0..7).

    Bit 0 transposes, bit 1 then flips left-right, bit 2 then flips up-down:
    every rotation by 90 degrees and every flip of a square once.
    """
    codes = tf.reshape(tf.cast(codes, tf.int32), [-1, 1, 1, 1])

    def chosen(bit: int) -> tf.Tensor:
        return tf.not_equal(tf.bitwise.bitwise_and(codes, bit), 0)

    images = tf.where(chosen(1), tf.transpose(images, [0, 2, 1, 3]), images)
    images = tf.where(chosen(2), tf.reverse(images, [2]), images)
    return tf.where(chosen(4), tf.reverse(images, [1]), images)


def _to_linear(srgb: tf.Tensor) -> tf.Tensor:
    return tf.where(srgb <= 0.04045, srgb / 12.92, tf.pow((srgb + 0.055) / 1.055, 2.4))


def _to_srgb(linear: tf.Tensor) -> tf.Tensor:
    return tf.where(linear <= 0.0031308, linear * 12.92, 1.055 * tf.pow(linear, 1 / 2.4) - 0.055)


def _f(t: tf.Tensor) -> tf.Tensor:
    return tf.where(t > _EPSILON, tf.pow(tf.maximum(t, _EPSILON), 1 / 3), 7.787 * t + 16 / 116)


def _f_inverse(f: tf.Tensor) -> tf.Tensor:
    return tf.where(f > 0.206893, f * f * f, (f - 16 / 116) / 7.787)


def scale_lightness(images: tf.Tensor, factors: tf.Tensor) -> tf.Tensor:
    """uint8 RGB images (B, H, W, 3) with their Lab L scaled by ``factors`` (B,), clipped to 0..100.

    The TensorFlow twin of ``asna.data.images.scale_lightness``.
    """
    matrix = tf.constant(_RGB_TO_XYZ, tf.float32)
    linear = _to_linear(tf.cast(images, tf.float32) / 255.0)
    xyz = tf.einsum("bhwc,kc->bhwk", linear, matrix)
    fx, fy, fz = tf.unstack(_f(xyz), axis=-1)
    y = xyz[..., 1]
    lightness = tf.where(y > _EPSILON, 116.0 * fy - 16.0, _KAPPA * y)
    a, b = 500.0 * (fx - fy), 200.0 * (fy - fz)

    lightness = tf.clip_by_value(lightness * tf.reshape(tf.cast(factors, tf.float32), [-1, 1, 1]), 0.0, 100.0)
    low = lightness <= _EPSILON * _KAPPA
    y = tf.where(low, lightness / _KAPPA, tf.pow((lightness + 16.0) / 116.0, 3.0))
    fy = tf.where(low, 7.787 * y + 16 / 116, (lightness + 16.0) / 116.0)
    xyz = tf.stack([_f_inverse(a / 500.0 + fy), y, _f_inverse(fy - b / 200.0)], axis=-1)
    rgb = tf.clip_by_value(tf.einsum("bhwk,ck->bhwc", xyz, tf.linalg.inv(matrix)), 0.0, 1.0)
    return tf.cast(tf.clip_by_value(tf.round(_to_srgb(rgb) * 255.0), 0.0, 255.0), tf.uint8)


# ---------------------------------------------------------------- the random draws

def draw(settings: AugmentSettings, step: tf.Tensor, replica: tf.Tensor | int, count: tf.Tensor | int
         ) -> tuple[tf.Tensor, tf.Tensor]:
    """Orientation codes (count,) and lightness factors (count,) for one replica's batch at ``step``.

    A pure function of (seed, step, replica): stateless random ops, no hidden state.
    """
    key = tf.stack([tf.constant(settings.seed, tf.int64), tf.cast(step, tf.int64)])
    key = tf.random.experimental.stateless_fold_in(key, tf.cast(replica, tf.int64))
    shape = tf.reshape(tf.cast(count, tf.int32), [1])
    codes = tf.random.stateless_uniform(shape, tf.random.experimental.stateless_fold_in(key, 0),
                                        minval=0, maxval=ORIENTATIONS, dtype=tf.int32)
    if not settings.orient:
        codes = tf.zeros_like(codes)
    chosen = tf.random.stateless_uniform(shape, tf.random.experimental.stateless_fold_in(key, 1))
    factors = tf.random.stateless_uniform(shape, tf.random.experimental.stateless_fold_in(key, 2),
                                          minval=LIGHTNESS_RANGE[0], maxval=LIGHTNESS_RANGE[1])
    scaled = chosen < settings.intensity_probability if settings.intensity else tf.zeros_like(chosen, tf.bool)
    return codes, tf.where(scaled, factors, tf.ones_like(factors))


@tf.function(jit_compile=True)
def augment_pairs(references: tf.Tensor, distorted: tf.Tensor, codes: tf.Tensor, factors: tf.Tensor,
                  intensity: bool = True) -> tuple[tf.Tensor, tf.Tensor]:
    """Both images of each pair in the same orientation, with the same lightness factor.

    A factor of exactly 1 leaves the pair's pixels as they are (the round trip is still
    computed under XLA, and discarded).
    Compiled with XLA, which fuses the per-pixel arithmetic: on a 2-core CPU,
    a 288 px pair costs about 6 ms with the Lab round trip and 0.1 ms without
    (OpenCV's float Lab: about 9 ms), 3-30x less than the same ops uncompiled.
    """
    out = []
    for images in (references, distorted):
        images = orient(images, codes)
        if intensity:
            keep = tf.reshape(tf.equal(factors, 1.0), [-1, 1, 1, 1])
            images = tf.where(keep, images, scale_lightness(images, factors))
        out.append(images)
    return out[0], out[1]


# ---------------------------------------------------------------- in the train step

def install(model: Any, settings: AugmentSettings) -> None:
    """Augment every training batch inside ``model``'s train step (nothing else changes).

    The step is the optimizer's iteration counter, so augmentation follows the
    saved training state; the replica index keeps replicas' draws apart.
    Evaluation, prediction and the saved model see no augmentation.
    """
    if not settings.active:
        return
    plain_step = model.train_step
    intensity = settings.intensity and settings.intensity_probability > 0

    def train_step(data):
        (references, distorted), *rest = data
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group if context is not None else 0
        codes, factors = draw(settings, model.optimizer.iterations, replica, tf.shape(references)[0])
        references, distorted = augment_pairs(references, distorted, codes, factors, intensity)
        return plain_step(((references, distorted), *rest))

    model.train_step = train_step
