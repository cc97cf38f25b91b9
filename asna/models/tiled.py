"""The tiled Siamese-difference network: a ConvLSTM reads each image as a sequence of tiles.

Paper: M. Ayyoubzadeh and A. Royat, "(ASNA) An Attention-based Siamese-Difference
Neural Network with Surrogate Ranking Loss function for Perceptual Image Quality
Assessment", CVPR Workshops (NTIRE), 2021.

Each scaled image is cut into non-overlapping ``tile_size`` tiles in row-major
order (288 / 72: 16 tiles); ``ConvLSTM2D(lstm_units, 5)`` inside the shared
encoder keeps its last state, a tile-sized map that the simple encoder reads.
The decoder starts at f4's scale, with no extra pool.
"""

from __future__ import annotations

import keras
from keras import layers

from asna.models import blocks
from asna.models.blocks import CHANNELS, ModelParams
from asna.models.layers import TileImage


def build_tiled_encoder(params: ModelParams) -> keras.Model:
    """ConvLSTM over the tile sequence, then the simple encoder on its last state."""
    tile, count = params.tile_size, (params.image_size // params.tile_size) ** 2
    tiles = keras.Input((count, tile, tile, CHANNELS), name="tiles")
    state = layers.ConvLSTM2D(params.lstm_units, 5, padding="same", name="lstm")(tiles)
    return keras.Model(tiles, blocks.encoder_features(state, params, batch_norm=False),
                       name="encoder")


def build_tiled(params: ModelParams) -> keras.Model:
    """Tiles -> shared ConvLSTM encoder -> differences -> decoder -> sigmoid head."""
    reference, distorted, reference_image, distorted_image = blocks.pair_inputs(params)
    encoder = build_tiled_encoder(params)
    reference_features = encoder(TileImage(params.tile_size, name="tile_reference")(reference_image))
    distorted_features = encoder(TileImage(params.tile_size, name="tile_distorted")(distorted_image))
    start = blocks.decoder_start(params, reference_features, distorted_features)
    diffs = blocks.differences(reference_features, distorted_features)
    x = blocks.decoder(start, diffs, params, batch_norm=False, extra_pool=False)
    x = blocks.downsample(x, (params.nfs[8], params.nfs[9]), params, batch_norm=False)
    return keras.Model([reference, distorted], blocks.head(x, params, "sigmoid"),
                       name="asna_tiled")
