"""ASNA: Siamese-difference networks for full-reference image quality assessment.

The package behind the scripts at the top of the repository, one subpackage a job:

* ``asna.api``        — the public surface: ``load_metric``, ``PerceptualLoss``, the console commands;
* ``asna.core``       — the basics: configs, errors, paths, metrics, plots, precision;
* ``asna.data``       — dataset preparation, the built-in synthetic set, the tf.data pipeline;
* ``asna.models``     — the four networks and their layers;
* ``asna.ranker``     — the surrogate Spearman ranker;
* ``asna.training``   — the training loop, run state, checkpoints and the loss;
* ``asna.evaluation`` — scoring pairs, folders and labelled sets beside the classic baselines;
* ``asna.studies``    — the demo, seed studies, ablations and the shipping check;
* ``asna.profiling``  — throughput, FLOPs and the side-by-side speed comparison.

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
    "load_metric": "asna.api.metric",
    "Metric": "asna.api.metric",
    "InputError": "asna.api.metric",
    "PerceptualLoss": "asna.api.perceptual_loss",
    "UserError": "asna.core.errors",
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
