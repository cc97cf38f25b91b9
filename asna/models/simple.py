"""The simple Siamese-difference network: shared encoder, difference decoder, dense head.

Paper: M. Ayyoubzadeh and A. Royat, "(ASNA) An Attention-based Siamese-Difference
Neural Network with Surrogate Ranking Loss function for Perceptual Image Quality
Assessment", CVPR Workshops (NTIRE), 2021.
"""

from __future__ import annotations

from typing import Any

import keras

from asna.models import blocks
from asna.models.blocks import ModelParams


def siamese_difference(params: ModelParams, batch_norm: bool) -> tuple[list, Any]:
    """Inputs and the decoder's full-resolution output, shared by simple, bn and attention."""
    reference, distorted, reference_image, distorted_image = blocks.pair_inputs(params)
    encoder = blocks.build_encoder(params, batch_norm)
    reference_features = encoder(reference_image)
    distorted_features = encoder(distorted_image)
    start = blocks.decoder_start(params, reference_features, distorted_features)
    diffs = blocks.differences(reference_features, distorted_features)
    return [reference, distorted], blocks.decoder(start, diffs, params, batch_norm)


def _plain(params: ModelParams, network: str, batch_norm: bool) -> keras.Model:
    """The simple trunk (with or without BatchNorm), down-sampling and a sigmoid head.

    The two strided down-sampling convolutions never get BatchNorm, as in the
    original BN network (1,504,943 parameters at the original's settings).
    """
    inputs, x = siamese_difference(params, batch_norm=batch_norm)
    x = blocks.downsample(x, (params.nfs[8], params.nfs[9]), params, batch_norm=False)
    return keras.Model(inputs, blocks.head(x, params, "sigmoid", inputs), name=f"asna_{network}")


def build_simple(params: ModelParams) -> keras.Model:
    """Encoder and decoder without normalisation; sigmoid before the final linear score."""
    return _plain(params, "simple", batch_norm=False)
