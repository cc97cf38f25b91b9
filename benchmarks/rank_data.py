"""Time the generation of the ranker's training vectors and their ranks.

Prints seconds for the vectorised generator and, for comparison, a per-row
Python loop over a sample (scaled up); the last line is one JSON object.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.ranker.data import make_rank_vectors  # noqa: E402


def per_row_ranks(vectors: np.ndarray) -> np.ndarray:
    """The slow way: rank each row on its own (for comparison only)."""
    ranks = np.empty_like(vectors)
    for row, vector in enumerate(vectors):
        for rank, index in enumerate(np.argsort(vector), start=1):
            ranks[row, index] = rank
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-data", type=int, default=2_000_000)
    parser.add_argument("--length", type=int, default=16)
    parser.add_argument("--loop-sample", type=int, default=20_000,
                        help="rows ranked by the per-row loop, scaled up to --num-data")
    arguments = parser.parse_args()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    vectors, ranks = make_rank_vectors(arguments.num_data, arguments.length, rng)
    vectorised = time.perf_counter() - start
    sample = vectors[:arguments.loop_sample]
    start = time.perf_counter()
    loop_ranks = per_row_ranks(sample)
    loop = (time.perf_counter() - start) * arguments.num_data / len(sample)
    assert np.array_equal(loop_ranks, ranks[:arguments.loop_sample])
    print(f"{arguments.num_data:,} vectors of length {arguments.length} with ranks: "
          f"vectorised {vectorised:.2f} s; per-row loop about {loop:.0f} s (from {len(sample):,} rows)")
    print(json.dumps({"num_data": arguments.num_data, "vectorised_s": round(vectorised, 3),
                      "per_row_loop_s_estimate": round(loop, 1)}))


if __name__ == "__main__":
    main()
