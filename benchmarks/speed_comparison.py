"""The whole side-by-side speed comparison in one sitting: the code before the faster paths against now.

For each precision (float32, bfloat16 by default): attention training at 288 px,
batch 16, through the HDF5 pipeline, and folder scoring with full TTA (22
variants, one model), each configuration ("arm") built once and then timed in
turn, A B A B ..., for --rounds rounds. Arms: before (every path in
asna/core/speed_paths.py off), now, and now without each path that acts there.
--candidates adds whole-step XLA and 4 steps per execution (no gain measured on
a CPU). Every figure comes with its GFLOP/s and its fraction of the matmul peak
measured in the same process. Prints one JSON line per timed call as it goes,
then a Markdown table of medians and one JSON summary line per arm. With
--rounds 3 it took 8-10 minutes on the 2-core development machine while other
jobs ran (load average 3-6); the default 5 rounds take about 5/3 of that at most.

Example: python benchmarks/speed_comparison.py --rounds 5
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.config import NETWORKS  # noqa: E402
from asna.core.errors import UserError, run_cli  # noqa: E402
from asna.evaluation import positive_int  # noqa: E402

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precisions", default="float32,mixed_bfloat16", metavar="LIST",
                        help=f"comma-separated, from {', '.join(PRECISIONS)} (default float32,mixed_bfloat16)")
    parser.add_argument("--rounds", type=positive_int, default=5, help="timed calls per arm, alternating")
    parser.add_argument("--steps", type=positive_int, default=8, help="timed training steps per call")
    parser.add_argument("--pairs", type=positive_int, default=8, help="folder pairs scored per call")
    parser.add_argument("--network", default="attention", choices=[n for n in NETWORKS if n != "tiled"])
    parser.add_argument("--image-size", type=positive_int, default=288)
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--only", choices=("training", "scoring"), default=None, help="run one of the two")
    parser.add_argument("--candidates", action="store_true",
                        help="also time whole-step XLA and 4 steps per execution in training")
    args = parser.parse_args()
    precisions = [name.strip() for name in args.precisions.split(",") if name.strip()]
    unknown = [name for name in precisions if name not in PRECISIONS]
    if unknown or not precisions:
        raise UserError(f"--precisions {args.precisions}: choose from {', '.join(PRECISIONS)}")
    from asna.profiling.speed_comparison import format_table, run_comparison, summary_records
    from asna.profiling.throughput import describe_device

    started, load = time.perf_counter(), os.getloadavg()
    print(f"{describe_device()}; load average at the start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    kinds = [args.only] if args.only else ["training", "scoring"]
    results = run_comparison(precisions, args.rounds, args.steps, args.pairs, args.network, args.image_size,
                             args.batch_size, args.candidates, kinds)
    end = os.getloadavg()
    print(f"\n{args.network} at {args.image_size} px, batch {args.batch_size}; medians of {args.rounds} "
          f"alternating rounds ({args.steps} training steps, {args.pairs} folder pairs each); "
          f"load average {load[0]:.2f} at the start, {end[0]:.2f} at the end; "
          f"{(time.perf_counter() - started) / 60:.1f} min")
    print(format_table(results))
    for record in summary_records(results, load):
        print(json.dumps({"summary": True, **record}))
    return 0


if __name__ == "__main__":
    run_cli(main)
