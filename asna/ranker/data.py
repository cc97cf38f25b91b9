"""Training vectors for the ranker and their ranks, generated vectorised.

Drawing 2,000,000 rows and ranking them with one ``argsort`` over the whole
array takes 1-2 s on two CPU cores, where ranking them with a per-row Python
loop takes 14-21 s (``benchmarks/rank_data.py``).
"""

from __future__ import annotations

import numpy as np


def ranks_of(vectors: np.ndarray) -> np.ndarray:
    """Ranks 1..L of each row (float32); continuous draws have no ties."""
    order = np.argsort(vectors, axis=1)
    ranks = np.empty(vectors.shape, dtype=np.float32)
    positions = np.arange(1, vectors.shape[1] + 1, dtype=np.float32)
    np.put_along_axis(ranks, order, np.broadcast_to(positions, order.shape), axis=1)
    return ranks


def make_rank_vectors(num_vectors: int, length: int, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Half N(0, 2) and half U(-10, 10) vectors (the original's mix) with their ranks.

    Even rows are normal and odd rows uniform, so every batch sees both kinds
    without a costly shuffle of the whole array.
    """
    vectors = np.empty((num_vectors, length), dtype=np.float32)
    normal, uniform = vectors[0::2], vectors[1::2]
    normal[:] = rng.standard_normal(size=normal.shape, dtype=np.float32) * 2.0
    uniform[:] = rng.random(size=uniform.shape, dtype=np.float32) * 20.0 - 10.0
    return vectors, ranks_of(vectors)
