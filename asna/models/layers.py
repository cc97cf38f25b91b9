"""Small layers for the custom maths of the Siamese-difference networks.

Each is a ``Layer`` subclass registered under the package name ``asna`` so a
saved ``.keras`` model reloads after ``import asna.models`` with no
``custom_objects`` (a ``Lambda`` would not reload safely).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import keras
from keras import ops

from asna.core import speed_paths
from asna.core.speed_paths import PATHS

PACKAGE = "asna"


def _fuse(inputs: Any, switch: bool) -> bool:
    """Whether to run an XLA-fused pass: TensorFlow, the path on, a half type, large maps (speed_paths).

    Only bfloat16 and float16 maps: there the fused passes measured faster; in
    float32 they did not, and XLA's compilation per batch shape would be a cost
    with nothing in return.
    """
    if not switch or keras.backend.backend() != "tensorflow":
        return False
    if keras.backend.standardize_dtype(inputs.dtype) not in ("bfloat16", "float16"):
        return False
    per_image = inputs.shape[1:]
    return None not in per_image and math.prod(per_image) >= speed_paths.FUSE_MIN_ELEMENTS


ONEDNN_HALF_CHANNELS = 16
"""oneDNN's vectorised BatchNorm takes bfloat16 maps whose channels are a multiple of this; others
go to its scalar code, 10-20x slower than the float32 copies (docs/benchmarks.md)."""


@functools.lru_cache(maxsize=None)
def _cpu_only() -> bool:
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


def _grouped_kernel_trains(inputs: Any) -> bool:
    """Whether BatchNorm in training runs on a bfloat16 map with fewer channels through the
    16-channel view (:func:`grouped_batch_norm_training`): fewer channels, dividing 16, rows of
    whole groups, a large map of known size (its gradient is an XLA-fused pass, as ``_fuse``'s)."""
    channels, width = inputs.shape[-1], inputs.shape[-2]
    return (_fuse(inputs, PATHS.half_batch_norm_training) and _cpu_only()
            and keras.backend.standardize_dtype(inputs.dtype) == "bfloat16"
            and channels < ONEDNN_HALF_CHANNELS and ONEDNN_HALF_CHANNELS % channels == 0
            and (width * channels) % ONEDNN_HALF_CHANNELS == 0)


def grouped_batch_norm_training(inputs: Any, gamma: Any, beta: Any, epsilon: float
                                ) -> tuple[Any, Any, Any, Any]:
    """BatchNorm's training pass on a bfloat16 NHWC map of C channels (C dividing 16), by oneDNN's
    16-channel kernels: returns the output, the batch mean and (biased) variance and the count.

    The map is viewed as rows of 16 "channels" (16 / C neighbouring pixels), a free reshape.
    The kernel's statistics of those 16 are combined into C exact means and variances; the
    normalisation is the kernel's inference pass with them; the gradient takes the kernel's
    per-channel sums and computes the input gradient in one fused pass. The same float32
    formulas as the fused kernel on a float32 copy, without the copies (speed_paths).
    """
    import tensorflow as tf

    channels, groups = inputs.shape[-1], ONEDNN_HALF_CHANNELS // inputs.shape[-1]
    shape = tf.shape(inputs)
    view = (shape[0], shape[1], -1, ONEDNN_HALF_CHANNELS)
    grouped = tf.reshape(inputs, view)
    per_group = tf.cast(tf.reduce_prod(tf.shape(grouped)[:-1]), tf.float32)
    ones, zeros = tf.ones((ONEDNN_HALF_CHANNELS,)), tf.zeros((ONEDNN_HALF_CHANNELS,))
    _, group_mean, group_variance = tf.compat.v1.nn.fused_batch_norm(
        grouped, ones, zeros, mean=zeros, variance=ones, epsilon=epsilon, is_training=True,
        exponential_avg_factor=1.0)
    group_mean = tf.reshape(group_mean, (groups, channels))
    group_variance = tf.reshape(group_variance, (groups, channels)) * ((per_group - 1) / per_group)
    mean = tf.stop_gradient(tf.reduce_mean(group_mean, axis=0))
    variance = tf.stop_gradient(tf.reduce_mean(group_variance + tf.square(group_mean - mean), axis=0))
    count = per_group * groups

    def tiled(values):
        return tf.tile(values, [groups])

    @tf.custom_gradient
    def normalise(inputs, gamma, beta):
        grouped = tf.reshape(inputs, view)
        outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
            grouped, tiled(gamma), tiled(beta), mean=tiled(mean), variance=tiled(variance),
            epsilon=epsilon, is_training=False)

        def gradient(upstream):
            _, gamma_sums, beta_sums, _, _ = tf.raw_ops.FusedBatchNormGradV3(
                y_backprop=tf.reshape(upstream, view), x=grouped, scale=tiled(gamma),
                reserve_space_1=tiled(mean), reserve_space_2=tiled(variance),
                reserve_space_3=tf.zeros((0,)), epsilon=epsilon, data_format="NHWC", is_training=False)
            gamma_grad = tf.reduce_sum(tf.reshape(gamma_sums, (groups, channels)), axis=0)
            beta_grad = tf.reduce_sum(tf.reshape(beta_sums, (groups, channels)), axis=0)
            inverse = tf.math.rsqrt(variance + epsilon)
            scale = gamma * inverse
            # dx = scale * (dy - (beta_grad + x_hat * gamma_grad) / count), x_hat = (x - mean) * inverse
            slope = -scale * inverse * gamma_grad / count
            offset = -scale * (beta_grad - mean * inverse * gamma_grad) / count
            input_grad = _compiled("batch_norm_gradient")(upstream, inputs, scale, slope, offset)
            return input_grad, gamma_grad, beta_grad
        return tf.reshape(outputs, shape), gradient

    return normalise(inputs, gamma, beta), mean, variance, count


def _half_kernel_trains(inputs: Any) -> bool:
    """Whether BatchNorm in training feeds this map to the kernel as it is (speed_paths).

    Only bfloat16 maps with a multiple of ``ONEDNN_HALF_CHANNELS`` channels on a
    CPU: there oneDNN's kernel reads them with float32 statistics inside, 2-3x
    faster than copying the map to float32 and back. GPUs keep the copies (not
    measured there).
    """
    return (PATHS.half_batch_norm_training and _cpu_only()
            and keras.backend.standardize_dtype(inputs.dtype) == "bfloat16"
            and inputs.shape[-1] is not None and inputs.shape[-1] % ONEDNN_HALF_CHANNELS == 0)


@functools.lru_cache(maxsize=None)
def _compiled(name: str) -> Callable:
    """One XLA-compiled TensorFlow function per name, made on first use.

    On a CPU, TensorFlow runs element-wise ops one by one, each a full pass over
    the feature map in memory; XLA fuses a chain of them into one pass. Only
    element-wise work goes here: convolutions and reductions stay with the
    ops TensorFlow already runs fast (docs/benchmarks.md).
    """
    import tensorflow as tf

    def difference(first, second):
        return tf.abs(first - second)

    def difference_gradient(first, second, upstream):
        # as TensorFlow's own gradients: d|d| = sign(d), d(a - b)/db = -1
        towards_first = upstream * tf.sign(first - second)
        return towards_first, -towards_first

    def batch_norm_inference(inputs, gamma, beta, mean, variance, epsilon):
        factor = gamma * tf.math.rsqrt(variance + epsilon)
        return tf.cast(tf.cast(inputs, tf.float32) * factor + (beta - mean * factor), inputs.dtype)

    def batch_norm_gradient(upstream, inputs, scale, slope, offset):
        # BatchNorm's input gradient, affine per channel in upstream and inputs
        # once the sums are known (grouped_batch_norm_training)
        values = tf.cast(upstream, tf.float32) * scale + tf.cast(inputs, tf.float32) * slope + offset
        return tf.cast(values, inputs.dtype)

    functions = {"difference": difference, "difference_gradient": difference_gradient,
                 "batch_norm_inference": batch_norm_inference, "batch_norm_gradient": batch_norm_gradient}
    return tf.function(functions[name], jit_compile=True)


def fused_absolute_difference(first: Any, second: Any) -> Any:
    """``|first - second|`` with its gradient, each one fused pass (TensorFlow only)."""
    import tensorflow as tf

    @tf.custom_gradient
    def absolute_difference(first, second):
        def gradient(upstream):
            return _compiled("difference_gradient")(first, second, upstream)
        return _compiled("difference")(first, second), gradient

    return absolute_difference(first, second)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaleToUnitRange(keras.layers.Layer):
    """uint8 pixels to [-1, 1] with ``(x - 127.5) / 127.5``, so models take raw images."""

    def call(self, inputs: Any) -> Any:
        pixels = ops.cast(inputs, self.compute_dtype)
        return (pixels - 127.5) / 127.5

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class AbsoluteDifference(keras.layers.Layer):
    """``|a - b|`` of two feature maps: the Siamese-difference signal."""

    def call(self, inputs: list) -> Any:
        first, second = inputs
        if _fuse(first, PATHS.fused_difference):
            return fused_absolute_difference(first, second)
        return ops.abs(first - second)

    def compute_output_shape(self, input_shape: list) -> tuple:
        return input_shape[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class TileImage(keras.layers.Layer):
    """Cut (B, H, W, C) into a row-major sequence (B, H/t * W/t, t, t, C) of tiles.

    One reshape, one transpose and one reshape, so it runs on the whole batch at
    once; tile ``k`` is row ``k // (W/t)``, column ``k % (W/t)``.
    """

    def __init__(self, tile_size: int, **kwargs: Any):
        super().__init__(**kwargs)
        if tile_size <= 0:
            raise ValueError(f"tile_size must be positive, got {tile_size}")
        self.tile_size = int(tile_size)

    def _grid(self, input_shape: tuple) -> tuple[int, int]:
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError("TileImage needs a static image height and width")
        if height % self.tile_size or width % self.tile_size:
            raise ValueError(f"tile_size {self.tile_size} does not divide the image "
                             f"size {height}x{width}")
        return height // self.tile_size, width // self.tile_size

    def call(self, inputs: Any) -> Any:
        rows, columns = self._grid(tuple(inputs.shape))
        size, channels = self.tile_size, inputs.shape[-1]
        grid = ops.reshape(inputs, (-1, rows, size, columns, size, channels))
        grid = ops.transpose(grid, (0, 1, 3, 2, 4, 5))
        return ops.reshape(grid, (-1, rows * columns, size, size, channels))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        rows, columns = self._grid(tuple(input_shape))
        size = self.tile_size
        return (input_shape[0], rows * columns, size, size, input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "tile_size": self.tile_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras BatchNormalization computed by TensorFlow's fused kernel on 4D NHWC maps.

    Same maths, variables and saved weights as ``keras.layers.BatchNormalization``
    (which Keras 3 builds from ~10 separate element-wise ops and reductions);
    on CPU the fused kernel made a training step of the attention network at
    288x288 about 1.3x cheaper in CPU time (docs/benchmarks.md). Like Keras 2's fused path, the moving variance is
    updated with the unbiased batch variance. Other ranks, axes, masks, renorm
    and non-TensorFlow backends fall back to the parent's ops.
    """

    def _fusable(self, inputs: Any, mask: Any) -> bool:
        return (keras.backend.backend() == "tensorflow" and mask is None
                and not self.renorm and len(inputs.shape) == 4
                and self.axis in (-1, 3))

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf  # only reached on the TensorFlow backend

        channels = inputs.shape[-1]
        gamma = (ops.cast(self.gamma, "float32") if self.scale
                 else ops.ones((channels,), "float32"))
        beta = (ops.cast(self.beta, "float32") if self.center
                else ops.zeros((channels,), "float32"))
        moving_mean = ops.cast(self.moving_mean, "float32")
        moving_variance = ops.cast(self.moving_variance, "float32")
        if not training and _fuse(inputs, PATHS.half_batch_norm_inference):
            # The half-type maps are not copied to float32 and back around the
            # kernel: one fused pass computes the same float32 affine map.
            outputs = _compiled("batch_norm_inference")(
                inputs, gamma, beta, moving_mean, moving_variance, float(self.epsilon))
            return ops.cast(outputs, self.compute_dtype)
        train = training and self.trainable
        if train and _grouped_kernel_trains(inputs):
            outputs, mean, variance, count = grouped_batch_norm_training(inputs, gamma, beta, self.epsilon)
            factor = 1.0 - self.momentum  # the fused kernel's update, with the unbiased variance
            self.moving_mean.assign(ops.cast((1 - factor) * moving_mean + factor * mean,
                                             self.moving_mean.dtype))
            self.moving_variance.assign(ops.cast(
                (1 - factor) * moving_variance + factor * variance * count / (count - 1),
                self.moving_variance.dtype))
            return ops.cast(outputs, self.compute_dtype)
        x = inputs if train and _half_kernel_trains(inputs) else ops.cast(inputs, "float32")
        if train:
            outputs, new_mean, new_variance = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, mean=moving_mean, variance=moving_variance,
                epsilon=self.epsilon, is_training=True,
                exponential_avg_factor=1.0 - self.momentum)
            self.moving_mean.assign(ops.cast(new_mean, self.moving_mean.dtype))
            self.moving_variance.assign(ops.cast(new_variance, self.moving_variance.dtype))
        else:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, mean=moving_mean, variance=moving_variance,
                epsilon=self.epsilon, is_training=False)
        return ops.cast(outputs, self.compute_dtype)


PHASE_TAPS = (((1, 0, 0), (0, 1, 1), (0, 0, 0)), ((0, 0, 0), (1, 1, 0), (0, 0, 1)))
"""For an output pixel 2i + a of a 3x3 'same' convolution of a 2x upsampled map: which of the kernel's
three taps (columns) act on rows i - 1, i, i + 1 of the map before upsampling (rows), for a = 0, 1."""


@keras.saving.register_keras_serializable(package=PACKAGE)
class UpsampledConcatConv2D(keras.layers.Conv2D):
    """``Conv2D(F, 3, stride 4 or 1, same)`` of ``concat(upsample2x(x), d)``, called on ``[x, d]``.

    The same kernel (3 x 3 x (C_x + C_d) x F) and bias as that convolution, so the weights are
    interchangeable; the full-size upsampled and concatenated maps are never made, and their
    gradients (a sum and slices over full-size maps) are not either. The kernel is folded in
    float32, then cast to the compute type.

    Stride 4 (the decoder's end, speed_paths.folded_upsampling): on maps whose side is a
    multiple of 4, 'same' pads nothing and output row i reads rows 4i, 4i + 1, 4i + 2 of the
    upsampled map, which are rows 2i, 2i, 2i + 1 of ``x``: the kernel's first two rows (and
    columns) act on the same values, so their sum, a 2 x 2 kernel at stride 2 on ``x``, gives
    the same products regrouped. Every network's full-resolution map has a side the encoder
    pools three times, a multiple of 8, so the condition holds.

    Stride 1 (between decoder steps, speed_paths.subpixel_upsampling): output row 2i + a reads
    rows of ``x`` around i, each through a sum of the kernel's rows (:data:`PHASE_TAPS`), so
    the upsampled part is a 3x3 convolution of ``x`` with 4F outputs, one F per output phase
    (a, b), put in place by ``depth_to_space``; ``d`` goes through its own part of the kernel.
    """

    def __init__(self, filters: int, kernel_size: Any = 3, strides: Any = 4, blocked_difference: bool = False,
                 **kwargs: Any):
        super().__init__(filters, kernel_size, strides=strides, **kwargs)
        if (tuple(self.kernel_size) != (3, 3) or tuple(self.strides) not in ((4, 4), (1, 1))
                or self.padding != "same" or tuple(self.dilation_rate) != (1, 1)):
            raise ValueError("UpsampledConcatConv2D folds a 3x3, stride-4 or stride-1, 'same' convolution only")
        if blocked_difference and tuple(self.strides) != (4, 4):
            raise ValueError("UpsampledConcatConv2D reads d on 2x2 blocks at stride 4 only")
        self.blocked_difference = bool(blocked_difference)
        self.input_spec = None  # two inputs, [x, d]

    def _joined_shape(self, upsampled: tuple, joined: tuple) -> tuple:
        """The shape of the concatenation the layer stands for, d counted in pixels."""
        if self.blocked_difference:
            joined = (joined[0], *(None if side is None else 2 * side for side in joined[1:3]), joined[3] // 4)
        return (*joined[:-1], upsampled[-1] + joined[-1])

    def build(self, input_shape: list) -> None:
        super().build(self._joined_shape(*input_shape))
        self.input_spec = None

    def compute_output_shape(self, input_shape: Any) -> tuple:
        if isinstance(input_shape[0], (list, tuple)):  # [x, d]; Conv2D.build passes the joined shape
            input_shape = self._joined_shape(*input_shape)
        return super().compute_output_shape(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "blocked_difference": self.blocked_difference}

    def call(self, inputs: list) -> Any:
        x, joined = inputs
        kernel = ops.convert_to_tensor(self.kernel.value)  # float32, before the policy's cast
        upsampled, direct = kernel[:, :, :x.shape[-1]], kernel[:, :, x.shape[-1]:]
        if tuple(self.strides) == (1, 1):
            outputs = self._subpixel(x, joined, upsampled, direct)
        else:
            outputs = self._stride_four(x, joined, upsampled, direct)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, self.compute_dtype)
        return self.activation(outputs) if self.activation is not None else outputs

    def _subpixel(self, x: Any, joined: Any, upsampled: Any, direct: Any) -> Any:
        import tensorflow as tf  # models are built on the TensorFlow backend

        dtype = self.compute_dtype
        phases = ops.convert_to_tensor(PHASE_TAPS, "float32")
        # (row phase a, new row r, old row k) x (column phase b, new column c, old column l)
        folded = ops.einsum("ark,bcl,klxf->rcxabf", phases, phases, upsampled)
        folded = ops.reshape(folded, (3, 3, x.shape[-1], 4 * self.filters))
        spread = tf.nn.depth_to_space(ops.conv(x, ops.cast(folded, dtype), strides=1, padding="same"), 2)
        return spread + ops.conv(joined, ops.cast(direct, dtype), strides=1, padding="same")

    def _stride_four(self, x: Any, joined: Any, upsampled: Any, direct: Any) -> Any:
        upsampled = ops.stack([upsampled[0] + upsampled[1], upsampled[2]], axis=0)
        upsampled = ops.stack([upsampled[:, 0] + upsampled[:, 1], upsampled[:, 2]], axis=1)
        dtype = self.compute_dtype
        if self.blocked_difference:
            # d in space_to_depth layout: pixel rows 4i, 4i + 1, 4i + 2 are block rows 2i (both
            # rows) and 2i + 1 (its first), so a 2x2 block kernel at stride 2 with zeros for the
            # rest reads the same values.
            channels = direct.shape[2]
            direct = ops.pad(direct, ((0, 1), (0, 1), (0, 0), (0, 0)))
            direct = ops.reshape(direct, (2, 2, 2, 2, channels, self.filters))
            direct = ops.reshape(ops.transpose(direct, (0, 2, 1, 3, 4, 5)), (2, 2, 4 * channels, self.filters))
            difference = ops.conv(joined, ops.cast(direct, dtype), strides=2, padding="valid")
        else:
            difference = ops.conv(joined, ops.cast(direct, dtype), strides=4, padding="valid")
        return ops.conv(x, ops.cast(upsampled, dtype), strides=2, padding="valid") + difference


@functools.lru_cache(maxsize=None)
def _block_taps(kernel_size: int) -> tuple[Any, Any]:
    """For a ``kernel_size`` kernel on 2x2 blocks: which tap of it each of the 3x3 block kernel's
    (block row, block column, input pixel row, column, output pixel row, column) entries takes,
    and whether one does (offsets past the kernel's reach take none)."""
    import numpy as np

    reach = kernel_size // 2
    taps, valid = [], []
    for block_row in range(3):
        for block_column in range(3):
            for in_row in range(2):
                for in_column in range(2):
                    for out_row in range(2):
                        for out_column in range(2):
                            row = 2 * (block_row - 1) + in_row - out_row
                            column = 2 * (block_column - 1) + in_column - out_column
                            inside = abs(row) <= reach and abs(column) <= reach
                            taps.append((row + reach, column + reach) if inside else (0, 0))
                            valid.append(inside)
    return np.array(taps, np.int32), np.array(valid, np.float32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BlockConv2D(keras.layers.Conv2D):
    """A stride-1, 'same' ``Conv2D`` (odd kernel up to 5) computed on 2x2 blocks of pixels.

    Input and output are in ``tf.nn.space_to_depth(., 2)`` layout: (H/2, W/2, 4C). The
    kernel and bias are the plain convolution's (k x k x C x F), so the weights are
    interchangeable; each call rearranges the kernel into a 3x3 block kernel of 4C inputs
    and 4F outputs (zeros where a tap is out of reach), which gives the same products.
    oneDNN runs convolutions with 3 and 8 channels far below its rate; with 12 and 32 it
    runs them faster (speed_paths.space_to_depth_stem).
    """

    def __init__(self, filters: int, kernel_size: Any, **kwargs: Any):
        super().__init__(filters, kernel_size, **kwargs)
        size = tuple(self.kernel_size)
        if (size[0] != size[1] or size[0] % 2 == 0 or size[0] > 5 or tuple(self.strides) != (1, 1)
                or self.padding != "same" or tuple(self.dilation_rate) != (1, 1)):
            raise ValueError("BlockConv2D computes a square, odd (up to 5), stride-1, 'same' convolution only")
        self.input_spec = None

    def build(self, input_shape: tuple) -> None:
        super().build((*input_shape[:-1], input_shape[-1] // 4))
        self.input_spec = None

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], 4 * self.filters)

    def call(self, inputs: Any) -> Any:
        import tensorflow as tf  # models are built on the TensorFlow backend

        kernel = ops.convert_to_tensor(self.kernel.value)  # float32, before the policy's cast
        taps, valid = _block_taps(self.kernel_size[0])
        channels = kernel.shape[2]
        blocked = tf.gather_nd(kernel, taps) * valid[:, None, None]
        blocked = tf.reshape(blocked, (3, 3, 2, 2, 2, 2, channels, self.filters))
        blocked = tf.reshape(tf.transpose(blocked, (0, 1, 2, 3, 6, 4, 5, 7)),
                             (3, 3, 4 * channels, 4 * self.filters))
        dtype = self.compute_dtype
        outputs = ops.conv(inputs, ops.cast(blocked, dtype), strides=1, padding="same")
        if self.use_bias:
            outputs = outputs + ops.cast(ops.tile(self.bias, [4]), dtype)
        return self.activation(outputs) if self.activation is not None else outputs


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpaceToDepth(keras.layers.Layer):
    """(H, W, C) -> (H/2, W/2, 4C) by 2x2 blocks (``tf.nn.space_to_depth``); ``inverse`` undoes it."""

    def __init__(self, inverse: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.inverse = bool(inverse)

    def call(self, inputs: Any) -> Any:
        import tensorflow as tf

        return (tf.nn.depth_to_space if self.inverse else tf.nn.space_to_depth)(inputs, 2)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, channels = input_shape
        if self.inverse:
            return (batch, None if height is None else 2 * height, None if width is None else 2 * width,
                    channels // 4)
        return (batch, None if height is None else height // 2, None if width is None else width // 2, 4 * channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "inverse": self.inverse}


def _block_view(inputs: Any) -> Any:
    """(B, h, w, 4C) blocks as (B, h, 4w, C) pixels, a free reshape: each row holds the four
    pixels of each block in turn, so per-channel statistics are those of the pixel map."""
    height, width, channels = inputs.shape[1], inputs.shape[2], inputs.shape[3]
    return ops.reshape(inputs, (-1, height, 4 * width, channels // 4))


@keras.saving.register_keras_serializable(package=PACKAGE)
class BlockBatchNormalization(FusedBatchNormalization):
    """:class:`FusedBatchNormalization` of a pixel map of C channels, called on it in
    ``space_to_depth`` layout (H/2, W/2, 4C): the same C-channel variables and statistics, so the
    weights are a plain BatchNorm's (speed_paths.space_to_depth_stem keeps f1 on blocks)."""

    def build(self, input_shape: tuple) -> None:
        super().build((*input_shape[:-1], input_shape[-1] // 4))
        self.input_spec = None

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        outputs = super().call(_block_view(inputs), training=training, mask=mask)
        return ops.reshape(outputs, (-1, *inputs.shape[1:]))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class BlockMaxPooling2D(keras.layers.Layer):
    """``MaxPooling2D(2)`` of a pixel map, called on it in ``space_to_depth`` layout: the max of
    each block's four pixels, by the same max-pool kernel, 1 x 4 at stride 4, over the
    (B, h, 4w, C) view of :func:`_block_view`, whose gradient goes to the maximum as the plain
    pooling's does. (Over a (B, h w, 4, C) view, the same windows, oneDNN took about 1.3x as long.)"""

    def call(self, inputs: Any) -> Any:
        return ops.max_pool(_block_view(inputs), pool_size=(1, 4), strides=(1, 4), padding="valid")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], input_shape[-1] // 4)


@keras.saving.register_keras_serializable(package=PACKAGE)
class WeightedMean(keras.layers.Layer):
    """``sum(w * q) / sum(w)`` over the positions of ``[q, w]`` maps (batch, H, W, 1): one value per image.

    The pooled head's pooling; a small floor on the weights' sum keeps an image
    whose weights all vanish finite.
    """

    def call(self, inputs: list) -> Any:
        quality, weight = inputs
        total = ops.sum(weight, axis=(1, 2)) + 1e-6
        return ops.sum(quality * weight, axis=(1, 2)) / total

    def compute_output_shape(self, input_shape: list) -> tuple:
        return (input_shape[0][0], 1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GradientSimilarityCells(keras.layers.Layer):
    """The pair's gradient-magnitude similarity (GMS, GMSD's map), its mean and sd per 8 x 8 cell.

    As GMSD computes it: luminance, a 2 x 2 mean at half resolution, Prewitt
    gradients (edges reflected), ``(2 m_r m_d + c) / (m_r^2 + m_d^2 + c)`` with
    c = 170 on 0-255. Cells of 4 x 4 half-resolution pixels give the same
    1/8-scale grid the networks' heads read, so the two maps line up. A classic
    map whose scale across distortion types agrees with people on LIVE-like
    data, handed to a head that otherwise learns only from synthetic labels.
    Computed in float32; returns the layer's compute dtype. No weights.
    """

    LUMA = (0.299, 0.587, 0.114)
    CONSTANT = 170.0
    CELL = 8  # input pixels per cell side: the heads' 1/8 scale

    def _magnitude(self, image: Any) -> Any:
        pixels = ops.cast(image, "float32")
        luminance = ops.sum(pixels * ops.convert_to_tensor(self.LUMA, "float32"), axis=-1, keepdims=True)
        half = ops.average_pool(luminance, 2, strides=2, padding="same")
        prewitt = ops.convert_to_tensor([[1.0, 0.0, -1.0]] * 3, "float32") / 3.0
        across = ops.conv(half, ops.reshape(prewitt, (3, 3, 1, 1)), padding="same")
        down = ops.conv(half, ops.reshape(ops.transpose(prewitt), (3, 3, 1, 1)), padding="same")
        return ops.sqrt(ops.square(across) + ops.square(down) + 1e-6)  # finite gradient on flat areas

    def call(self, inputs: list) -> Any:
        reference, distorted = (self._magnitude(image) for image in inputs)
        similarity = ((2.0 * reference * distorted + self.CONSTANT)
                      / (ops.square(reference) + ops.square(distorted) + self.CONSTANT))
        cell = self.CELL // 2
        mean = ops.average_pool(similarity, cell, strides=cell, padding="same")
        square = ops.average_pool(ops.square(similarity), cell, strides=cell, padding="same")
        spread = ops.sqrt(ops.maximum(square - ops.square(mean), 0.0) + 1e-6)
        return ops.cast(ops.concatenate([1.0 - mean, spread], axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape: list) -> tuple:
        shape = input_shape[0]
        side = [None if n is None else -(-n // self.CELL) for n in shape[1:3]]
        return (shape[0], *side, 2)


CUSTOM_LAYERS = (ScaleToUnitRange, AbsoluteDifference, TileImage, FusedBatchNormalization, UpsampledConcatConv2D,
                 BlockConv2D, SpaceToDepth, BlockBatchNormalization, BlockMaxPooling2D, WeightedMean,
                 GradientSimilarityCells)
