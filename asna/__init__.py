"""ASNA: Siamese-difference networks for full-reference image quality assessment.

Shared code for the scripts at the top of the repository: text configs,
metrics, the surrogate Spearman ranker and the loss, dataset preparation,
the tf.data input pipeline, the four networks, training and evaluation.

The public API (docs/api.md), loaded on first use so that ``import asna``
stays free of TensorFlow:

* ``asna.load_metric(models=None, tta="none", ...)`` -> ``Metric`` with
  ``score(reference, distorted)`` for one pair or a batch (higher is better);
* ``asna.PerceptualLoss(models=None)``: the metric as a differentiable Keras loss;
* ``asna.UserError`` and ``asna.InputError``: the one-line errors for bad input.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_metric": "asna.api",
    "Metric": "asna.api",
    "InputError": "asna.api",
    "PerceptualLoss": "asna.perceptual_loss",
    "UserError": "asna.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    """Import the module that holds a public name the first time it is asked for."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'asna' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
