"""The BN Siamese-difference network: the simple network with BatchNorm after the encoder's and
decoder's LeakyReLUs (not after the two strided down-sampling convolutions).

Paper: M. Ayyoubzadeh and A. Royat, "(ASNA) An Attention-based Siamese-Difference
Neural Network with Surrogate Ranking Loss function for Perceptual Image Quality
Assessment", CVPR Workshops (NTIRE), 2021.
"""

from __future__ import annotations

import keras

from asna.models.blocks import ModelParams
from asna.models.simple import _plain


def build_bn(params: ModelParams) -> keras.Model:
    """As ``build_simple`` with BatchNormalization in the encoder and the decoder only."""
    return _plain(params, "bn", batch_norm=True)
