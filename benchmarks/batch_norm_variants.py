"""BatchNorm's bfloat16 training pass three ways, on one map: the kernel with float32 copies, without, and XLA.

Times asna/profiling/batch_norm_timing.py's variants (forward and gradient of one BatchNorm
on a bfloat16 map, default the attention network's first encoder stage at 288 px:
16 x 288 x 288 x 8) in turn, A B C A B C ..., and prints each one's median wall
and CPU seconds per pass, the largest difference of its results from the default
path's (float32 copies around TensorFlow's fused kernel), and one JSON line.
A variant that is not faster here has no reason to replace the default.

Example: python benchmarks/batch_norm_variants.py --rounds 5
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402
from asna.evaluation import positive_int  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=positive_int, default=16, help="maps per pass (default 16)")
    parser.add_argument("--size", type=positive_int, default=288, help="map side (default 288)")
    parser.add_argument("--channels", type=positive_int, default=8, help="channels (default 8)")
    parser.add_argument("--rounds", type=positive_int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--repeats", type=positive_int, default=5, help="passes per timed call (default 5)")
    arguments = parser.parse_args()
    from asna.profiling.batch_norm_timing import compare_variants
    from asna.profiling.throughput import describe_device

    shape = (arguments.batch, arguments.size, arguments.size, arguments.channels)
    times, differences = compare_variants(shape, arguments.rounds, arguments.repeats)
    print(f"{describe_device()}; BatchNorm training pass on a bfloat16 {'x'.join(map(str, shape))} map; load average "
          f"{os.getloadavg()[0]:.2f}; medians of {arguments.rounds} rounds of {arguments.repeats}")
    print("| variant | wall ms | CPU ms | largest |y - default| | largest |dx - default| |")
    print("|---|---:|---:|---:|---:|")
    for variant, figures in times.items():
        gap = differences.get(variant, {"y": 0.0, "dx": 0.0})
        print(f"| {variant} | {1000 * figures['wall_s']:.1f} | {1000 * figures['cpu_s']:.1f} | "
              f"{gap['y']:.3g} | {gap['dx']:.3g} |")
    print(json.dumps({"shape": shape, "times": times, "differences": differences}))
    return 0


if __name__ == "__main__":
    run_cli(main)
