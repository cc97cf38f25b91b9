"""Pieces every Siamese-difference network is built from, written once.

Paper: M. Ayyoubzadeh and A. Royat, "(ASNA) An Attention-based Siamese-Difference
Neural Network with Surrogate Ranking Loss function for Perceptual Image Quality
Assessment", CVPR Workshops (NTIRE), 2021.

Layer names follow ``<stage>_<part>`` (``f2_conv``, ``dec1_up``, ``att_out``,
``res2_add``, ``head_dense``) so the figures and the docs can group layers by
stage; docs/networks.md describes the networks layer by layer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import keras
from keras import layers

from asna.core.config import resolve_section
from asna.core.errors import UserError
from asna.core.speed_paths import PATHS
from asna.models.layers import (AbsoluteDifference, BlockBatchNormalization, BlockConv2D, BlockMaxPooling2D,
                                FusedBatchNormalization, GradientSimilarityCells, ScaleToUnitRange, SpaceToDepth,
                                UpsampledConcatConv2D, WeightedMean)

ENCODER_POOLS = 3  # f2, f3 and f4 each start with a 2x max-pool
CHANNELS = 3


@dataclass(frozen=True)
class ModelParams:
    """The ``[model]`` config section, checked once so builders can trust it."""

    network: str
    image_size: int
    alpha: float
    nfs: tuple[int, ...]
    kss: tuple[int, ...]
    dense_num: int
    l2_dense: float
    l2_conv: float
    drop_out: float
    num_resblocks: int
    attention_flag: bool
    tile_size: int
    lstm_units: int
    decoder_source: str
    head: str = "flatten"
    classic_map: str = "none"

    @property
    def input_side(self) -> int | None:
        """The input side the network is built for: ``None`` (any) with a pooled head."""
        return None if self.head == "pooled" else self.image_size

    @classmethod
    def from_config(cls, section: Any) -> "ModelParams":
        """Build from a config ``Section``, a full or partial dict, or ``ModelParams``."""
        if isinstance(section, ModelParams):
            return section
        values = resolve_section("model", section.as_dict() if hasattr(section, "as_dict") else section)
        l2_dense, l2_conv = values.pop("l2_reg")
        values["nfs"], values["kss"] = tuple(values["nfs"]), tuple(values["kss"])
        params = cls(l2_dense=l2_dense, l2_conv=l2_conv, **values)
        check_params(params)
        return params


def _require(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise UserError(f"[model] {key}: {message}")


def check_params(params: ModelParams) -> None:
    """Refuse values the architecture cannot be built with, naming the key."""
    _require(all(n > 0 for n in params.nfs), "nfs",
             f"expected 10 positive filter counts, got {list(params.nfs)}")
    _require(all(k > 0 for k in params.kss), "kss",
             f"expected 4 positive kernel sizes, got {list(params.kss)}")
    _require(params.dense_num > 0, "dense_num", f"must be positive, got {params.dense_num}")
    _require(params.alpha >= 0, "alpha", f"must be >= 0, got {params.alpha}")
    _require(0 <= params.drop_out < 1, "drop_out", f"must be in [0, 1), got {params.drop_out}")
    _require(params.l2_dense >= 0 and params.l2_conv >= 0, "l2_reg",
             f"must be >= 0, got {[params.l2_dense, params.l2_conv]}")
    _require(params.num_resblocks >= 0, "num_resblocks",
             f"must be >= 0, got {params.num_resblocks}")
    _require(params.image_size > 0, "image_size", f"must be positive, got {params.image_size}")
    if params.network == "tiled":
        _require(params.head == "flatten", "head",
                 "the tiled network cuts a fixed-size image into its tiles, so it keeps the flatten head")
        _require(params.classic_map == "none", "classic_map",
                 "the tiled network's ConvLSTM reads its tiles' features only; use simple, bn or attention")
        _check_tiles(params)
    else:
        _require(params.image_size % 16 == 0, "image_size",
                 f"{params.image_size} is not divisible by 16: the {params.network} network "
                 "halves the features four times (three max-pools in the encoder, one more "
                 "at the start of the decoder, then upsampled back onto the differences), "
                 "so use a multiple of 16 such as 288")


def _check_tiles(params: ModelParams) -> None:
    """Tiles must cover the image exactly and survive the encoder's three pools."""
    size, tile = params.image_size, params.tile_size
    _require(tile > 0, "tile_size", f"must be positive, got {tile}")
    _require(size % tile == 0, "tile_size",
             f"{tile} does not divide image_size {size}: the tiled network cuts "
             f"each image into non-overlapping {tile}x{tile} tiles, so image_size must be a "
             f"multiple of tile_size (e.g. tile_size 72 for image_size 288)")
    _require(tile % 8 == 0, "tile_size",
             f"{tile} is not divisible by 8: the encoder max-pools each {tile}x{tile} tile "
             "three times by 2 before the decoder upsamples back onto the differences")
    _require(params.lstm_units > 0, "lstm_units", f"must be positive, got {params.lstm_units}")


def _l2(factor: float) -> keras.regularizers.Regularizer | None:
    """No regulariser at all for a zero factor: a zero penalty still costs ops."""
    return keras.regularizers.L2(factor) if factor > 0 else None


def conv(filters: int, kernel: int, params: ModelParams, name: str, *, strides: int = 1,
         activation: str | None = None) -> layers.Conv2D:
    """A ``same``-padded convolution with the network's L2 kernel penalty."""
    return layers.Conv2D(filters, kernel, strides=strides, padding="same",
                         activation=activation, kernel_regularizer=_l2(params.l2_conv),
                         name=name)


def conv_stage(x: Any, filters: int, kernel: int, params: ModelParams, name: str,
               batch_norm: bool, strides: int = 1) -> Any:
    """Conv -> LeakyReLU (-> BatchNorm): the unit of encoder, decoder and down-sampling.

    ``x`` may be a :class:`Folded` pair (a decoder step's upsampling and concatenation left
    unmade): the convolution then takes it as :class:`UpsampledConcatConv2D`.
    """
    if isinstance(x, Folded):
        x = UpsampledConcatConv2D(filters, kernel, strides=strides, padding="same", blocked_difference=x.blocked,
                                  kernel_regularizer=_l2(params.l2_conv),
                                  name=f"{name}_conv")([x.half_resolution, x.difference])
    else:
        x = conv(filters, kernel, params, f"{name}_conv", strides=strides)(x)
    x = layers.LeakyReLU(negative_slope=params.alpha, name=f"{name}_lrelu")(x)
    if batch_norm:
        x = FusedBatchNormalization(name=f"{name}_bn")(x)
    return x


def _stem_on_blocks(x: Any, kernel: int) -> bool:
    """Whether the full-resolution stage runs on 2x2 blocks: the path on, an even size known when
    the model is built, and a kernel :class:`BlockConv2D` can rearrange."""
    height, width = x.shape[1], x.shape[2]
    return (PATHS.space_to_depth_stem and None not in (height, width) and height % 2 == 0
            and width % 2 == 0 and kernel % 2 == 1 and kernel <= 5)


def blocked_stem(x: Any, params: ModelParams, batch_norm: bool) -> tuple[Any, bool]:
    """f1 with its two convolutions on 2x2 blocks (:class:`BlockConv2D`; same names and weights as
    the plain stage's), then LeakyReLU and BatchNorm, and whether f1 is left on blocks.

    With ``folded_upsampling`` on, D4's one reader (the stride-4 convolution) takes it on blocks,
    so f1 stays on blocks through BatchNorm (:class:`BlockBatchNormalization`) and f2's pooling
    (:class:`BlockMaxPooling2D`): no layout change back to pixels. Otherwise it goes back to
    pixels after the convolutions."""
    kernel = params.kss[0]
    x = SpaceToDepth(name="f1_to_blocks")(x)
    for filters, name in ((CHANNELS, "f1_conv_rgb"), (params.nfs[0], "f1_conv")):
        x = BlockConv2D(filters, kernel, padding="same", kernel_regularizer=_l2(params.l2_conv), name=name)(x)
    on_blocks = PATHS.folded_upsampling
    if not on_blocks:
        x = SpaceToDepth(inverse=True, name="f1_to_pixels")(x)
    x = layers.LeakyReLU(negative_slope=params.alpha, name="f1_lrelu")(x)
    if batch_norm:
        x = (BlockBatchNormalization if on_blocks else FusedBatchNormalization)(name="f1_bn")(x)
    return x, on_blocks


def with_plain_stem(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with f1 as plain convolutions on pixels, the same weights; ``model``
    itself when its f1 is not on blocks.

    The block form pays in training (the 3- and 8-channel gradients), not in a forward pass:
    in bfloat16 oneDNN runs the plain 3-channel convolutions' forward faster than the blocks,
    so scoring takes them plain (``speed_paths.plain_stem_scoring``). Each block layer becomes
    its pixel twin with the same name and weights; the layout changes become identities.
    """
    from asna.core.precision import all_layers, rebuilt

    if not isinstance(model, keras.Model) or not any(isinstance(layer, BlockConv2D) for layer in all_layers(model)):
        return model

    twins = {BlockConv2D: layers.Conv2D, BlockBatchNormalization: FusedBatchNormalization}

    def plain(layer: Any) -> Any:
        if isinstance(layer, SpaceToDepth):
            return layers.Identity(name=layer.name, dtype=layer.dtype_policy)
        if isinstance(layer, BlockMaxPooling2D):
            return layers.MaxPooling2D(2, name=layer.name, dtype=layer.dtype_policy)
        config = layer.get_config()
        if isinstance(layer, UpsampledConcatConv2D):
            config["blocked_difference"] = False
        return twins.get(type(layer), type(layer)).from_config(config)

    return rebuilt(model, plain)


def encoder_features(x: Any, params: ModelParams, batch_norm: bool) -> list:
    """Stages f1..f4 at scales 1, 1/2, 1/4, 1/8 of ``x``; returns [f1, f2, f3, f4]."""
    nfs, kss = params.nfs, params.kss
    on_blocks = False
    if _stem_on_blocks(x, kss[0]):
        f1, on_blocks = blocked_stem(x, params, batch_norm)
        features = [f1]
    else:
        x = conv(CHANNELS, kss[0], params, "f1_conv_rgb")(x)
        features = [conv_stage(x, nfs[0], kss[0], params, "f1", batch_norm)]
    for stage in range(1, 4):
        pool = BlockMaxPooling2D if stage == 1 and on_blocks else functools.partial(layers.MaxPooling2D, 2)
        pooled = pool(name=f"f{stage + 1}_pool")(features[-1])
        features.append(conv_stage(pooled, nfs[stage], kss[stage], params,
                                   f"f{stage + 1}", batch_norm))
    return features


def build_encoder(params: ModelParams, batch_norm: bool) -> keras.Model:
    """The one encoder model both images go through, so their weights are one set."""
    size = params.input_side
    image = keras.Input((size, size, CHANNELS), name="image")
    return keras.Model(image, encoder_features(image, params, batch_norm), name="encoder")


def pair_inputs(params: ModelParams) -> tuple[Any, Any, Any, Any]:
    """uint8 ``reference`` and ``distorted`` inputs and their [-1, 1] scaled tensors."""
    shape = (params.input_side, params.input_side, CHANNELS)
    reference = keras.Input(shape, dtype="uint8", name="reference")
    distorted = keras.Input(shape, dtype="uint8", name="distorted")
    return (reference, distorted, ScaleToUnitRange(name="scale_reference")(reference),
            ScaleToUnitRange(name="scale_distorted")(distorted))


def differences(reference_features: list, distorted_features: list) -> list:
    """[D1, D2, D3, D4] = |f4|, |f3|, |f2|, |f1| differences, deepest first."""
    pairs = list(zip(reference_features, distorted_features))[::-1]
    return [AbsoluteDifference(name=f"diff{index}")(list(pair))
            for index, pair in enumerate(pairs, start=1)]


def decoder_start(params: ModelParams, reference_features: list,
                  distorted_features: list) -> Any:
    """The deepest features of the image ``decoder_source`` names."""
    chosen = reference_features if params.decoder_source == "reference" else distorted_features
    return chosen[-1]


class Folded(NamedTuple):
    """A decoder step's upsampling and concatenation left unmade: its half-resolution map and
    its difference (``blocked``: D4 on 2x2 blocks, from :func:`blocked_stem`), for the
    convolution that follows to fold them in (speed_paths)."""

    half_resolution: Any
    difference: Any
    blocked: bool = False


def decoder(x: Any, diffs: list, params: ModelParams, batch_norm: bool,
            extra_pool: bool = True) -> Any:
    """Steps 1-4: conv, upsample, concat D1..D4; ends at full resolution.

    With ``extra_pool`` (simple, bn, attention) step 1 pools once more and
    upsamples back; the tiled network starts at f4's scale and does neither.
    With ``speed_paths.folded_upsampling`` on, the last step's upsampling and
    concatenation are returned as a :class:`Folded` pair for :func:`downsample`;
    with ``subpixel_upsampling`` on, the earlier steps' go to the next step's
    convolution as one.
    """
    if extra_pool:
        x = layers.MaxPooling2D(2, name="dec1_pool")(x)
    steps = list(enumerate(zip(params.nfs[4:8], diffs), start=1))
    for step, (filters, diff) in steps:
        x = conv_stage(x, filters, 3, params, f"dec{step}", batch_norm)
        upsampled = extra_pool or step > 1
        last = step == len(steps)
        if upsampled and (PATHS.folded_upsampling if last else PATHS.subpixel_upsampling):
            # D4 on blocks has 4 nfs[0] channels where the pixel map has nfs[0]
            x = Folded(x, diff, blocked=last and diff.shape[-1] == 4 * params.nfs[0])
        else:
            if upsampled:
                x = layers.UpSampling2D(2, name=f"dec{step}_up")(x)
            x = layers.Concatenate(name=f"dec{step}_concat")([x, diff])
    return x


def downsample(x: Any, filters: tuple[int, int], params: ModelParams, batch_norm: bool) -> Any:
    """Step 5: stride-4 then stride-2 3x3 convolutions back to 1/8 scale."""
    x = conv_stage(x, filters[0], 3, params, "down1", batch_norm, strides=4)
    return conv_stage(x, filters[1], 3, params, "down2", batch_norm, strides=2)


def head(x: Any, params: ModelParams, squash: str, inputs: list | None = None) -> Any:
    """Flatten -> Dense(relu) -> Dropout -> Dense(1, squash) -> Dense(1) = score.

    The last two layers compute in float32 so the score is float32 under a
    mixed_float16 policy. ``head = pooled`` swaps the Flatten for a pooling
    over positions (:func:`pooled_head`). ``classic_map = gms`` first puts the
    pair's gradient-magnitude similarity, summarised per 8 x 8 cell, beside the
    1/8-scale features (``inputs``: the uint8 reference and distorted images).
    """
    if params.classic_map == "gms":
        if inputs is None:
            raise ValueError("classic_map = gms needs the pair's inputs")
        cells = GradientSimilarityCells(name="classic_gms")(inputs)
        x = layers.Concatenate(name="classic_concat")([x, cells])
    if params.head == "pooled":
        return pooled_head(x, params, squash)
    x = layers.Flatten(name="head_flatten")(x)
    x = layers.Dense(params.dense_num, activation="relu",
                     kernel_regularizer=_l2(params.l2_dense), name="head_dense")(x)
    x = layers.Dropout(params.drop_out, name="head_dropout")(x)
    x = layers.Dense(1, activation=squash, dtype="float32", name="head_squash")(x)
    return layers.Dense(1, dtype="float32", name="score")(x)


def pooled_head(x: Any, params: ModelParams, squash: str) -> Any:
    """Per position: Dense(relu) -> Dropout -> a quality and a weight; their weighted mean -> squash -> score.

    The dense layer is the flatten head's, applied at every position of the
    1/8-scale map (a 1x1 convolution), so the network is fully convolutional
    and scores a whole photograph at once. The learned weight lets positions
    where a difference is visible count more than flat ones, which a plain
    mean over tiles cannot do.
    """
    x = conv(params.dense_num, 1, params, "head_dense", activation="relu")(x)
    x = layers.Dropout(params.drop_out, name="head_dropout")(x)
    quality = layers.Conv2D(1, 1, dtype="float32", name="head_quality")(x)
    weight = layers.Conv2D(1, 1, activation="softplus", dtype="float32", name="head_weight")(x)
    x = WeightedMean(name="head_pool")([quality, weight])
    x = layers.Dense(1, activation=squash, dtype="float32", name="head_squash")(x)
    return layers.Dense(1, dtype="float32", name="score")(x)


def attention_block(x: Any, filters: int, params: ModelParams, name: str = "att") -> Any:
    """Channel and spatial attention on a conv feature map, fused with the input by a 1x1."""
    a = conv(filters, 3, params, f"{name}_conv1", activation="relu")(x)
    a = FusedBatchNormalization(name=f"{name}_bn")(a)
    a = conv(filters, 3, params, f"{name}_conv2")(a)
    channel = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_channel_pool")(a)
    channel = conv(filters, 1, params, f"{name}_channel_conv1", activation="relu")(channel)
    channel = conv(filters, 1, params, f"{name}_channel_conv2", activation="sigmoid")(channel)
    channel = layers.Multiply(name=f"{name}_channel_mul")([a, channel])
    spatial = conv(filters, 1, params, f"{name}_spatial_conv1", activation="relu")(a)
    spatial = conv(filters, 1, params, f"{name}_spatial_conv2", activation="sigmoid")(spatial)
    spatial = layers.Multiply(name=f"{name}_spatial_mul")([a, spatial])
    merged = layers.Concatenate(name=f"{name}_concat")([x, channel, spatial])
    return conv(filters, 1, params, f"{name}_out")(merged)


def residual_block(x: Any, params: ModelParams, name: str) -> Any:
    """``x + Conv(relu) -> Conv`` with the input's channel count."""
    channels = x.shape[-1]
    y = conv(channels, 3, params, f"{name}_conv1", activation="relu")(x)
    y = conv(channels, 3, params, f"{name}_conv2")(y)
    return layers.Add(name=f"{name}_add")([x, y])
