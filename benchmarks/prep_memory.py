"""Measure what the real-dataset preparation costs: peak memory, and HDF5 read speed per storage option.

``memory``: builds PIPAL-layout copies of two sizes (the second ``--factor``
times the first) and runs ``prepare_dataset/create_data_pipal.py`` on each under
``/usr/bin/time -v`` (Debian package ``time``), reporting peak RSS and its
growth. Streaming means the growth must stay under 15 % for 4x the input.

``storage``: writes the same pairs of natural photographs through
``PairWriter`` with no compression, lzf and gzip (one chunk per pair) and times
random-access reads of single pairs and of batches of 16, as training reads them.

The last line of each command is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import UserError, run_cli  # noqa: E402
from asna.data.layout import PairWriter, open_pairs  # noqa: E402

TIME = Path("/usr/bin/time")
PIPAL_SCRIPT = ROOT / "prepare_dataset" / "create_data_pipal.py"


# ----------------------------------------------------------------------------- memory


def peak_rss(command: list[str]) -> tuple[float, float]:
    """Peak resident memory (MiB) and wall seconds of a command, from ``/usr/bin/time -v``."""
    result = subprocess.run([str(TIME), "-v", *command], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"{command[1]}: failed with exit code {result.returncode}:\n{result.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", result.stderr)
    seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.group(1).split(":"))))
    return int(rss.group(1)) / 1024, seconds


def measure_memory(args: argparse.Namespace) -> dict:
    from real_layouts import make_pipal  # the tests' builder of the real layout

    if not TIME.exists():
        raise UserError(f"{TIME}: not found; install it with 'apt-get update && apt-get install time'")
    work = Path(args.work or tempfile.mkdtemp(prefix="asna_prep_memory_"))
    results = []
    try:
        for references in (args.references, args.references * args.factor):
            dataset, out = work / f"pipal_{references}", work / f"out_{references}"
            started = time.perf_counter()
            make_pipal(dataset, naming="Distortion", image_size=288, references=references,
                       per_reference=args.per_reference)
            built = time.perf_counter() - started
            input_mb = sum(p.stat().st_size for p in dataset.rglob("*") if p.is_file()) / 2 ** 20
            rss, seconds = peak_rss([sys.executable, str(PIPAL_SCRIPT), "--pipal", str(dataset),
                                     "--out", str(out), *args.script_args])
            outputs = sorted(out.glob("*.h5"))
            output_mb = sum(p.stat().st_size for p in outputs) / 2 ** 20
            pairs = sum(_pairs_in(p) for p in outputs)
            results.append({"references": references, "pairs": pairs, "input_mib": round(input_mb),
                            "output_mib": round(output_mb), "peak_rss_mib": round(rss, 1),
                            "seconds": round(seconds, 1), "build_seconds": round(built, 1)})
            print(f"{references:>4} refs x {args.per_reference} = {pairs:>6} pairs: input {input_mb:7.0f} MiB,"
                  f" output {output_mb:7.0f} MiB, peak RSS {rss:7.1f} MiB, {seconds:6.1f} s", flush=True)
            shutil.rmtree(dataset)
            shutil.rmtree(out)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    growth = results[1]["peak_rss_mib"] / results[0]["peak_rss_mib"] - 1
    print(f"peak RSS grows {100 * growth:.1f} % for {args.factor}x the input "
          f"(limit 15 %; largest {results[1]['peak_rss_mib']:.0f} MiB, limit 1536 MiB)")
    return {"runs": results, "growth": round(growth, 4), "script_args": args.script_args}


def _pairs_in(path: Path) -> int:
    with open_pairs(path) as handle:
        return len(handle["y"])


# ----------------------------------------------------------------------------- storage


def natural_pairs(count: int, size: int, pad_to: int | None, seed: int = 0):
    """Pairs of crops of scikit-image's photographs with blur, noise or JPEG, like the datasets'."""
    import cv2
    from skimage import data

    from asna.data.images import center_pad

    photos = [getattr(data, name)() for name in ("astronaut", "chelsea", "coffee", "rocket",
                                                 "hubble_deep_field", "immunohistochemistry", "retina")]
    rng = np.random.default_rng(seed)
    for index in range(count):
        photo = photos[index % len(photos)]
        top = rng.integers(0, photo.shape[0] - size + 1)
        left = rng.integers(0, photo.shape[1] - size + 1)
        reference = np.ascontiguousarray(photo[top:top + size, left:left + size])
        kind = index % 3
        if kind == 0:
            distorted = cv2.GaussianBlur(reference, (0, 0), 1.0 + rng.random() * 2)
        elif kind == 1:
            noise = rng.normal(0, 5 + 20 * rng.random(), reference.shape)
            distorted = np.clip(reference + noise, 0, 255).astype(np.uint8)
        else:
            _, encoded = cv2.imencode(".jpg", reference, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(10, 60))])
            distorted = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
        if pad_to:
            reference, distorted = (center_pad(image, pad_to) for image in (reference, distorted))
        yield reference, distorted


def time_reads(x, pairs: int, reads: int) -> dict[str, float]:
    """Milliseconds to read pairs the ways an input pipeline can (file already in the OS cache)."""
    rng = np.random.default_rng(1)

    def clock(read, repeats: int) -> float:
        started = time.perf_counter()
        for _ in range(repeats):
            read()
        return round(1000 * (time.perf_counter() - started) / repeats, 2)

    def batch() -> np.ndarray:
        return np.sort(rng.choice(pairs, 16, replace=False))

    return {"read_ms_per_pair": clock(lambda: x[int(rng.integers(pairs))], reads),
            "read_ms_16_one_by_one": clock(lambda: [x[int(i)] for i in batch()], max(reads // 16, 1)),
            "read_ms_16_slice": clock(lambda: x[(i := int(rng.integers(pairs - 16))):i + 16], max(reads // 16, 1)),
            "read_ms_16_fancy_index": clock(lambda: x[batch()], 3)}


def measure_storage(args: argparse.Namespace) -> dict:
    import h5py

    work = Path(tempfile.mkdtemp(prefix="asna_storage_"))
    results = []
    try:
        for content, size, pad_to in (("photo 288 (TID, PIPAL)", 288, None), ("padded 256 (PieAPP)", 256, 288)):
            pairs = list(natural_pairs(args.pairs, size, pad_to))
            for compression in ("none", "lzf", "gzip"):
                path = work / f"{compression}.h5"
                started = time.perf_counter()
                with PairWriter(path, 288, {"synthetic": (0.0, 1.0)}, "train", 0,
                                compression=None if compression == "none" else compression) as writer:
                    for reference, distorted in pairs:
                        writer.append(reference, distorted, 0.0, "d", "r", "synthetic")
                write_seconds = time.perf_counter() - started
                with h5py.File(path, "r") as handle:
                    timings = time_reads(handle["x"], args.pairs, args.reads)
                row = {"content": content, "compression": compression,
                       "mib_per_pair": round(path.stat().st_size / args.pairs / 2 ** 20, 3),
                       "write_ms_per_pair": round(1000 * write_seconds / args.pairs, 2),
                       **timings}
                results.append(row)
                print(f"{content:<24} {compression:<5} {row['mib_per_pair']:6.3f} MiB/pair  write "
                      f"{row['write_ms_per_pair']:6.2f} ms/pair  read: one random pair "
                      f"{row['read_ms_per_pair']:6.2f} ms, 16 random pairs one by one "
                      f"{row['read_ms_16_one_by_one']:6.1f} ms, 16 consecutive "
                      f"{row['read_ms_16_slice']:6.1f} ms, 16 random by fancy index "
                      f"{row['read_ms_16_fancy_index']:7.1f} ms", flush=True)
                path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"pairs": args.pairs, "reads": args.reads, "results": results}


# ----------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    memory = commands.add_parser("memory", help="peak RSS of create_data_pipal.py for two input sizes")
    memory.add_argument("--references", type=int, default=10, help="references of the small copy (default: 10)")
    memory.add_argument("--factor", type=int, default=4, help="the large copy has this many times more (default: 4)")
    memory.add_argument("--per-reference", type=int, default=116,
                        help="distorted images per reference (default: 116, as PIPAL)")
    memory.add_argument("--work", help="folder for the copies (default: a temporary folder, removed after)")
    memory.add_argument("script_args", nargs="*", metavar="-- ARG",
                        help="more arguments for create_data_pipal.py, after '--'")
    storage = commands.add_parser("storage", help="size and read speed of none / lzf / gzip storage")
    storage.add_argument("--pairs", type=int, default=300, help="pairs written per option (default: 300)")
    storage.add_argument("--reads", type=int, default=320, help="random pairs read per option (default: 320)")
    return parser


def main() -> int:
    args = build_parser().parse_args()
    figures = measure_memory(args) if args.command == "memory" else measure_storage(args)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    run_cli(main)
