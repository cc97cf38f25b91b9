"""ASNA, the attention Siamese-difference network (the NTIRE 2021 challenge model).

Paper: M. Ayyoubzadeh and A. Royat, "(ASNA) An Attention-based Siamese-Difference
Neural Network with Surrogate Ranking Loss function for Perceptual Image Quality
Assessment", CVPR Workshops (NTIRE), 2021.

The BN network, except that both strided convolutions use ``nfs[9]`` filters and
are followed by a channel-and-spatial attention block (``nfs[8]`` filters,
switched by ``attention_flag``) and ``num_resblocks`` residual blocks; the head
squashes with tanh instead of sigmoid.
"""

from __future__ import annotations

import keras

from asna.models import blocks
from asna.models.blocks import ModelParams
from asna.models.simple import siamese_difference


def build_attention(params: ModelParams) -> keras.Model:
    """BN trunk -> attention block -> residual blocks -> tanh head."""
    inputs, x = siamese_difference(params, batch_norm=True)
    x = blocks.downsample(x, (params.nfs[9], params.nfs[9]), params, batch_norm=True)
    if params.attention_flag:
        x = blocks.attention_block(x, params.nfs[8], params)
    for index in range(1, params.num_resblocks + 1):
        x = blocks.residual_block(x, params, f"res{index}")
    return keras.Model(inputs, blocks.head(x, params, "tanh", inputs), name="asna_attention")
