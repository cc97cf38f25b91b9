"""Training pairs per second that the input pipeline delivers, per HDF5 storage option.

Writes a temporary prepared file of random image-like pairs (smooth random
colour fields with fine noise, distorted = blurred copy, so that compression
has something to gain) with PairWriter
for each storage option (no compression, lzf, gzip; one chunk per pair), then
times ``make_dataset(training=True)`` at batch 16. The files are freshly
written, so they are read from the OS cache: this measures decoding, shuffling
and batching, not the disk (augmentation runs in the train step on the device,
see benchmarks/train_throughput.py). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import UserError, run_cli  # noqa: E402

STORAGES = ("none", "lzf", "gzip")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=512, help="pairs in each temporary file")
    parser.add_argument("--image-size", type=int, default=288)
    parser.add_argument("--seconds", type=float, default=8.0, help="timing per configuration")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--storages", default=",".join(STORAGES), help="comma-separated subset of none,lzf,gzip")
    parser.add_argument("--readers", type=int, default=1, help="parallel HDF5 reader generators")
    parser.add_argument("--tmp", default=None, help="folder for the temporary files")
    return parser.parse_args()


def random_pairs(count: int, size: int, seed: int = 0):
    """Image-like random pairs: smooth colour fields with fine noise; distorted = blurred copy."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    for _ in range(count):
        coarse = rng.integers(0, 256, size=(max(2, size // 24), max(2, size // 24), 3), dtype=np.uint8)
        smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.int16)
        reference = np.clip(smooth + rng.integers(-1, 2, size=smooth.shape), 0, 255).astype(np.uint8)
        distorted = cv2.blur(reference, (3, 3))
        yield reference, distorted, float(rng.uniform(1, 5))


def write_file(path: Path, storage: str, pairs: int, size: int) -> float:
    """Write one temporary prepared file; returns seconds taken."""
    from asna.data.layout import PairWriter

    started = time.perf_counter()
    with PairWriter(path, size, {"synthetic": (3.0, 1.0)}, "train", 0,
                    compression=None if storage == "none" else storage) as writer:
        for i, (reference, distorted, mos) in enumerate(random_pairs(pairs, size)):
            writer.append(reference, distorted, mos, f"P{i:05d}.bmp", f"R{i // 8:04d}", "synthetic")
    return time.perf_counter() - started


def measure(path: Path, batch_size: int, seconds: float, readers: int) -> tuple[float, float]:
    """Pairs per second (wall clock) and CPU milliseconds of this process per pair, after a warm-up."""
    from asna.data.pipeline import make_dataset

    dataset = make_dataset(path, batch_size, training=True, seed=0, readers=readers)
    iterator = iter(dataset)
    for _ in range(5):
        next(iterator)
    pairs, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        (reference, _), _ = next(iterator)
        pairs += int(reference.shape[0])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return pairs / wall, 1000 * cpu / pairs


def main() -> int:
    args = parse_arguments()
    storages = [s.strip() for s in args.storages.split(",") if s.strip()]
    bad = [s for s in storages if s not in STORAGES]
    if bad or not storages:
        raise UserError(f"--storages {args.storages}: choose from {', '.join(STORAGES)}")
    if args.pairs < args.batch_size or args.image_size < 8 or args.seconds <= 0:
        raise UserError("--pairs must be at least --batch-size, --image-size at least 8, --seconds positive")
    results: dict[str, dict[str, float]] = {}
    print(f"{args.pairs} pairs of {args.image_size}x{args.image_size}, batch {args.batch_size}, "
          f"{os.cpu_count()} CPUs, readers {args.readers}, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        for storage in storages:
            path = Path(folder) / f"pairs_{storage}.h5"
            write_seconds = write_file(path, storage, args.pairs, args.image_size)
            entry = {"file_mb": round(path.stat().st_size / 2 ** 20, 1), "write_s": round(write_seconds, 1)}
            rate, cpu = measure(path, args.batch_size, args.seconds, args.readers)
            entry.update(pairs_per_s=round(rate, 1), cpu_ms_per_pair=round(cpu, 2))
            results[storage] = entry
            print(f"{storage:5s} file {entry['file_mb']:7.1f} MB  written in {entry['write_s']:5.1f} s  "
                  + "  ".join(f"{k} {v}" for k, v in entry.items() if k.startswith(("pairs", "cpu"))),
                  flush=True)
            path.unlink()
    print(json.dumps({"image_size": args.image_size, "batch_size": args.batch_size, "pairs": args.pairs,
                      "cpus": os.cpu_count(), "readers": args.readers,
                      "load_average_end": round(os.getloadavg()[0], 2), "results": results}))
    return 0


if __name__ == "__main__":
    run_cli(main)
