"""Milliseconds per pair of the training augmentation: on the device (TensorFlow, XLA) and OpenCV's.

Times ``asna.data.augment.augment_pairs`` on a batch of random pairs, with the
Lab lightness scaling on every pair (the worst case) and with orientations
only, after one untimed call (compilation); then, for comparison, the OpenCV
float Lab round trip (``asna.data.images.scale_lightness``) that the input
pipeline used to run, one pair after another in this process. Prints one line
per measurement, then as the last line one JSON object.

Example: python benchmarks/augment_throughput.py --image-size 288 --batch-size 16
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

import numpy as np  # noqa: E402

from asna.core.errors import run_cli  # noqa: E402
from asna.evaluation import positive_int  # noqa: E402


def per_pair_ms(function, repeats: int, pairs: int) -> float:
    """Milliseconds per pair of ``function()`` (which works on ``pairs`` pairs), after one untimed call."""
    function()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return 1000 * (time.perf_counter() - started) / repeats / pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=positive_int, default=288)
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed calls per measurement")
    args = parser.parse_args()
    import tensorflow as tf

    from asna.data.augment import augment_pairs
    from asna.data.images import scale_lightness
    from asna.profiling.throughput import describe_device

    rng = np.random.default_rng(0)
    shape = (args.batch_size, args.image_size, args.image_size, 3)
    references = tf.constant(rng.integers(0, 256, shape, dtype=np.uint8))
    distorted = tf.constant(rng.integers(0, 256, shape, dtype=np.uint8))
    codes = tf.constant(rng.integers(0, 8, args.batch_size), tf.int32)
    factors = tf.constant(rng.uniform(0.3, 1.5, args.batch_size), tf.float32)
    results = {
        "device_lab_ms_per_pair": per_pair_ms(
            lambda: augment_pairs(references, distorted, codes, factors, True)[1].numpy(), args.repeats,
            args.batch_size),
        "device_orient_only_ms_per_pair": per_pair_ms(
            lambda: augment_pairs(references, distorted, codes, factors, False)[1].numpy(), args.repeats,
            args.batch_size),
    }
    plain = (references.numpy(), distorted.numpy())
    results["opencv_lab_ms_per_pair"] = per_pair_ms(
        lambda: [scale_lightness(images[row], 0.7) for images in plain for row in range(args.batch_size)],
        args.repeats, args.batch_size)
    for name, value in results.items():
        print(f"{name}: {value:.3f}")
    print(json.dumps({"image_size": args.image_size, "batch_size": args.batch_size, "device": describe_device(),
                      "load_average": round(os.getloadavg()[0], 2),
                      **{name: round(value, 3) for name, value in results.items()}}))
    return 0


if __name__ == "__main__":
    run_cli(main)
