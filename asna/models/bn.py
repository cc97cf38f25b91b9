"""The BN Siamese-difference network: the simple network with BatchNorm after every LeakyReLU.

Paper: M. Ayyoubzadeh and A. Royat, "(ASNA) An Attention-based Siamese-Difference
Neural Network with Surrogate Ranking Loss function for Perceptual Image Quality
Assessment", CVPR Workshops (NTIRE), 2021.
"""

from __future__ import annotations

from typing import Any

import keras

from asna.models import blocks
from asna.models.simple import siamese_difference


def build_bn(config: Any) -> keras.Model:
    """As ``build_simple`` with BatchNormalization in the encoder and the decoder."""
    params = blocks.params_for(config, "bn")
    inputs, x = siamese_difference(params, batch_norm=True)
    x = blocks.downsample(x, (params.nfs[8], params.nfs[9]), params, batch_norm=True)
    return keras.Model(inputs, blocks.head(x, params, "sigmoid"), name="asna_bn")
