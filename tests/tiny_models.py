"""A tiny trained ASNA model for the API, loss and install tests, trained once per test session.

A ``simple`` network with 8 filters a stage at 32 x 32, fitted for a few
epochs to ``write_tiny_pairs`` data (random references, Gaussian noise at five
levels, the score falling with the noise), saved with its sidecar the way
training writes them. It ranks noise levels well, so a denoiser that removes
noise raises its score.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from conftest import write_tiny_pairs

IMAGE_SIZE = 32
MEAN, STD = 3.0, 1.0  # write_tiny_pairs's standardisation
SMALL = {"network": "simple", "image_size": IMAGE_SIZE, "nfs": [8] * 10, "dense_num": 8}


def write_sidecar(model_path: Path, image_size: int = IMAGE_SIZE, network: str = "simple") -> Path:
    """The sidecar training writes beside a model: input size and the score's standardisation."""
    sidecar = model_path.with_suffix(".json")
    sidecar.write_text(json.dumps({"network": network, "image_size": image_size,
                                   "standardization": {"synthetic": [MEAN, STD]}}))
    return sidecar


def tiny_trained_model(base: Path) -> Path:
    """``base/tiny_asna/model.keras`` (+ ``model.json``), trained on the first call of a session."""
    model_path = base / "tiny_asna" / "model.keras"
    if model_path.is_file():
        return model_path
    import keras

    from asna.data.layout import open_pairs
    from asna.models import build_model

    folder = model_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    train = write_tiny_pairs(folder / "train.h5", 160, seed=11)
    with open_pairs(train) as handle:
        pairs, targets = handle["x"][:], handle["y"][:]
    keras.utils.set_random_seed(3)
    model = build_model(SMALL)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    model.fit([pairs[:, 0], pairs[:, 1]], targets, batch_size=16, epochs=6, shuffle=True, verbose=0)
    partial = folder / "partial.keras"
    model.save(partial)
    write_sidecar(model_path)
    partial.replace(model_path)  # the sidecar first: a model file present means both are
    return model_path


def noisy_pairs(count: int, size: int = IMAGE_SIZE, seed: int = 5, sigma: float = 30.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """uint8 references and their copies with Gaussian noise of ``sigma`` grey levels."""
    rng = np.random.default_rng(seed)
    references = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    noisy = np.clip(references + rng.normal(0, sigma, references.shape), 0, 255).astype(np.uint8)
    return references, noisy
