"""Pairs per second of the scorer, each with its GFLOP/s and fraction of the machine's matmul peak.

Cases (--cases, default all): one model and an ensemble of three, TTA none and
full (22 variants), on random pairs in memory; and folder_1_model_tta_full,
which scores a temporary challenge folder of BMP files (Ref/, Dis/) through
evaluation_ntire.py's path (decoding, batching, TTA, model), what a challenge
user waits for. Untrained networks (build_model): the weights do not change the
cost. Each case is scored once untimed first, at the same batch shapes (tracing;
in bfloat16 or float16, XLA's compilation of the fused passes for each batch
shape, 1-2 s at 288 px), so the figures are steady-state throughput.

FLOPs per scored pair are the network's forward FLOPs (TensorFlow's profiler on
the built model) times the variants times the models; the matmul peak is timed
in the same precision in the same run. --precision builds the models under that
dtype policy (the score head stays float32); --old-path NAME times the code
before one of the faster paths (asna/core/speed_paths.py). The last line is one JSON
object.

Example: python benchmarks/evaluation_throughput.py --image-size 288 --pairs 8 --precision mixed_bfloat16
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.config import NETWORKS  # noqa: E402
from asna.core.errors import run_cli  # noqa: E402
from asna.core.precision import PRECISIONS  # noqa: E402
from asna.core.speed_paths import NAMES as SPEED_PATHS  # noqa: E402
from asna.evaluation import positive_int  # noqa: E402
from asna.profiling.throughput import SCORING_CASES  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=positive_int, default=288)
    parser.add_argument("--pairs", type=positive_int, default=8, help="pairs scored per case")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="pairs per model call")
    parser.add_argument("--network", default="attention", choices=NETWORKS)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="dtype policy of the models; auto picks as scoring does (default float32)")
    parser.add_argument("--cases", default=",".join(SCORING_CASES), metavar="LIST",
                        help=f"comma-separated cases (default all): {', '.join(SCORING_CASES)}")
    parser.add_argument("--old-path", action="append", default=[], choices=SPEED_PATHS, metavar="NAME",
                        help=f"time the code before this faster path (repeatable): {', '.join(SPEED_PATHS)}")
    parser.add_argument("--no-peak", action="store_true", help="do not time the matmul peak")
    args = parser.parse_args()
    from asna.profiling.throughput import describe_device, format_scoring, run_scoring_benchmark

    cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    precision, results = run_scoring_benchmark(cases, args.network, args.image_size, args.pairs, args.batch_size,
                                               args.precision, tuple(args.old_path), not args.no_peak)
    for result in results:
        print(format_scoring(result, precision))
    print(json.dumps({"network": args.network, "precision": precision, "image_size": args.image_size,
                      "pairs": args.pairs, "batch_size": args.batch_size, "device": describe_device(),
                      "old_paths": args.old_path,
                      "pairs_per_second": {result.case: result.pairs_per_s for result in results},
                      "cases": [result.as_dict() for result in results]}))
    return 0


if __name__ == "__main__":
    run_cli(main)
