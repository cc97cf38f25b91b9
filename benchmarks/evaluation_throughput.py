"""Pairs per second of the scorer: TTA none and full, one model and an ensemble of three.

Untrained attention networks (build_model) on random image pairs: the weights
do not change the cost. Each model is traced (once, for any batch size) before timing, so the
figures are steady-state throughput. The last line is one JSON object.

--precision builds the models under that dtype policy (the score head stays float32).

Example: python benchmarks/evaluation_throughput.py --image-size 288 --pairs 8 --precision mixed_bfloat16
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from asna.config import NETWORKS  # noqa: E402
from asna.errors import run_cli  # noqa: E402
from asna.evaluation import positive_int  # noqa: E402
from asna.precision import PRECISIONS  # noqa: E402

ENSEMBLE = 3
PIPAL_SCALE = {"pipal": (1449.05, 121.35)}


def build_models(image_size: int, network: str) -> tuple[list, list]:
    """``ENSEMBLE`` untrained models of one network and their ``ModelInfo``."""
    import keras

    from asna.evaluation.scorer import ModelInfo
    from asna.models import build_model

    models, infos = [], []
    for index in range(ENSEMBLE):
        keras.utils.set_random_seed(index)
        models.append(build_model({"network": network, "image_size": image_size}))
        infos.append(ModelInfo(Path(f"untrained_{index}.keras"), network, image_size, PIPAL_SCALE))
    return models, infos


def warm_up(scorer, references: np.ndarray, distorted: np.ndarray) -> None:
    """Trace each model once (any batch size) and touch its weights, so neither is timed."""
    scorer.score_pairs(references[:1], distorted[:1], tta="none")


def time_scoring(scorer, references: np.ndarray, distorted: np.ndarray, mode: str) -> float:
    """Seconds to score every pair once."""
    start = time.perf_counter()
    scorer.score_pairs(references, distorted, tta=mode)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=positive_int, default=288)
    parser.add_argument("--pairs", type=positive_int, default=8, help="random pairs scored per configuration")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="pairs per model call")
    parser.add_argument("--network", default="attention", choices=NETWORKS)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="dtype policy of the models; auto picks as training does (default float32)")
    args = parser.parse_args()
    from asna.benchmarking import describe_device
    from asna.evaluation.scorer import QualityScorer
    from asna.precision import precision_scope

    rng = np.random.default_rng(0)
    shape = (args.pairs, args.image_size, args.image_size, 3)
    references = rng.integers(0, 256, shape, dtype=np.uint8)
    distorted = rng.integers(0, 256, shape, dtype=np.uint8)
    with precision_scope(args.precision, "inference") as precision:
        models, infos = build_models(args.image_size, args.network)
    device = describe_device()
    results = {}
    for count in (1, ENSEMBLE):
        scorer = QualityScorer(models[:count], infos[:count], args.batch_size)
        warm_up(scorer, references, distorted)
        for mode in ("none", "full"):
            seconds = time_scoring(scorer, references, distorted, mode)
            key = f"{count}_model{'s' if count > 1 else ''}_tta_{mode}"
            results[key] = round(args.pairs / seconds, 3)
            print(f"{count} model(s), TTA {mode:4s}: {args.pairs / seconds:8.3f} pairs/s "
                  f"({args.pairs} pairs in {seconds:.2f} s)")
    print(json.dumps({"network": args.network, "precision": precision, "image_size": args.image_size,
                      "pairs": args.pairs,
                      "batch_size": args.batch_size, "device": device, "pairs_per_second": results}))
    return 0


if __name__ == "__main__":
    run_cli(main)
