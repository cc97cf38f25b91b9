"""Steady-state training pairs per second of one network (real model, full loss, Adam).

The model and loss come from configs/<network>_pretrain.txt (the original
hyperparameters) unless --config is given; model.image_size is set to
--image-size (the tiled network keeps tile 72 at 288, else a tile near a
quarter of the size). --data memory repeats one constant batch, so only the
training step is timed; --data hdf5 feeds the real tf.data pipeline over a
temporary file of random pairs. Either way the step includes the on-device
augmentation (orientations; Lab lightness with --intensity-augment on). The
--warmup steps (tracing) are not timed. Prints the human lines (with the
network's GFLOP per training pair, the achieved GFLOP/s and their fraction of
the matmul peak in that precision, measured in the same run), then as the last
line one JSON object.

--old-path NAME times the code before one of the faster paths (asna/core/speed_paths.py);
--jit-compile and --steps-per-execution are Keras's whole-step XLA switch and
steps per call (benchmarks/speed_comparison.py sets them side by side).

Example: python benchmarks/train_throughput.py --network attention --image-size 288 --steps 20 \
             --precision mixed_bfloat16 --intensity-augment on
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402
from asna.core.precision import PRECISIONS  # noqa: E402
from asna.core.speed_paths import NAMES as SPEED_PATHS  # noqa: E402
from asna.evaluation import positive_int  # noqa: E402
from asna.profiling.throughput import DATA_SOURCES, JIT_CHOICES, NETWORKS, RANKERS  # noqa: E402


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", required=True, choices=NETWORKS)
    parser.add_argument("--image-size", type=positive_int, default=288)
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--steps", type=positive_int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=positive_int, default=3, help="untimed steps first (tracing)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="Keras dtype policy; auto picks as training does (default float32)")
    parser.add_argument("--intensity-augment", choices=("on", "off"), default=None,
                        help="Lab lightness augmentation in the step (default: the config's data.intensity_augment)")
    parser.add_argument("--data", choices=DATA_SOURCES, default="memory",
                        help="memory: one constant batch repeated (model step only); "
                             "hdf5: the real pipeline over a temporary prepared file")
    parser.add_argument("--ranker", choices=RANKERS, default=None,
                        help="override the config's loss.ranker (default: the config's, i.e. learned)")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="config whose [model] and [loss] are timed (default configs/<network>_pretrain.txt)")
    parser.add_argument("--deterministic", action="store_true",
                        help="TensorFlow's deterministic ops, as training.deterministic = True (its speed cost)")
    parser.add_argument("--jit-compile", choices=JIT_CHOICES, default="auto",
                        help="XLA for the whole train step; auto: Keras's pick (on a GPU, not on a CPU)")
    parser.add_argument("--steps-per-execution", type=positive_int, default=1, metavar="N",
                        help="training steps per Keras call (--steps and --warmup must be multiples)")
    parser.add_argument("--old-path", action="append", default=[], choices=SPEED_PATHS, metavar="NAME",
                        help=f"time the code before this faster path (repeatable): {', '.join(SPEED_PATHS)}")
    parser.add_argument("--no-peak", action="store_true",
                        help="do not time the matmul peak after the steps (saves a few seconds)")
    parser.add_argument("--profile-ops", type=positive_int, default=0, metavar="N",
                        help="then run N more steps under TensorFlow's profiler and print where their op "
                             "time went, by op type and by layer")
    parser.add_argument("--inter-op-threads", type=positive_int, default=None, metavar="N",
                        help="TensorFlow's threads for ops run side by side (default: TensorFlow's pick)")
    parser.add_argument("--intra-op-threads", type=positive_int, default=None, metavar="N",
                        help="TensorFlow's threads inside one op (default: TensorFlow's pick)")
    return parser.parse_args()


def main() -> int:
    args = parse_arguments()
    from asna.profiling.throughput import (benchmark_config, describe_device, format_result,
                                           precision_warning, run_benchmark, set_threads, warn)

    set_threads(args.inter_op_threads, args.intra_op_threads)  # before TensorFlow runs anything

    intensity = None if args.intensity_augment is None else args.intensity_augment == "on"
    benchmark_config(args.network, args.image_size, args.config, args.ranker,
                     intensity_augment=intensity)  # bad input: fail before TF loads
    warn(precision_warning(args.precision, describe_device()))
    if args.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    result = run_benchmark(args.network, args.image_size, args.batch_size, args.steps, args.warmup,
                           args.precision, args.data, args.ranker, args.config, intensity_augment=intensity,
                           jit_compile=args.jit_compile, steps_per_execution=args.steps_per_execution,
                           old_paths=tuple(args.old_path), measure_peak=not args.no_peak,
                           profile_steps=args.profile_ops)
    print(format_result(result))
    print(json.dumps(result.as_dict()))
    return 0


if __name__ == "__main__":
    run_cli(main)
