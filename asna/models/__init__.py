"""The four Siamese-difference IQA networks and one entry point that builds them.

Paper: M. Ayyoubzadeh and A. Royat, "(ASNA) An Attention-based Siamese-Difference
Neural Network with Surrogate Ranking Loss function for Perceptual Image Quality
Assessment", CVPR Workshops (NTIRE), 2021.

``build_model(cfg.model)`` picks the builder from ``network``. Importing this
package registers the custom layers, the training loss and the logged metrics,
so ``keras.models.load_model(path)`` reloads a saved ``.keras`` model, compiled
as training left it, without ``custom_objects``.
"""

from __future__ import annotations

from typing import Any, Callable

import keras

from asna.core.config import NETWORKS
from asna.models.attention import build_attention
from asna.models.blocks import ModelParams
from asna.models.bn import build_bn
from asna.models.layers import CUSTOM_LAYERS
from asna.models.simple import build_simple
from asna.models.tiled import build_tiled
import asna.training.losses  # noqa: F401  (registers the loss and the logged metrics for load_model)

BUILDERS: dict[str, Callable[[ModelParams], keras.Model]] = {
    "simple": build_simple,
    "bn": build_bn,
    "attention": build_attention,
    "tiled": build_tiled,
}


def build_model(config: Any) -> keras.Model:
    """Build the network the ``[model]`` section (a ``Section``, dict or ``ModelParams``) names.

    A dict may hold only the keys that differ from ``asna.core.config.SCHEMA``'s defaults.
    Values the architecture cannot use raise ``asna.core.errors.UserError``.
    """
    params = ModelParams.from_config(config)
    return BUILDERS[params.network](params)


def custom_objects() -> dict[str, type]:
    """The package's layers by name, for code that passes ``custom_objects`` anyway."""
    return {layer.__name__: layer for layer in CUSTOM_LAYERS}


__all__ = ["BUILDERS", "NETWORKS", "ModelParams", "build_model", "custom_objects",
           "build_simple", "build_bn", "build_attention", "build_tiled"]
