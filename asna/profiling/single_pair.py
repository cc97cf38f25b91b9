"""Time and peak memory of scoring one large pair, each case in a fresh process.

A fresh process per case, because the peak resident size (``ru_maxrss``) of a
process only grows: a case run after a larger one would report the larger
one's peak. Each case loads the model(s), makes a pair of the asked size in
memory (random pixels and a row-striped copy: the time does not depend on the
content), scores a small pair once so that tracing is not timed, then scores
the large pair through ``asna.load_metric(...).score`` (the path the console
commands take after decoding the files) and reports the seconds, the peak
resident size and how far scoring raised it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Sequence

from asna.core.errors import UserError
from asna.core.paths import REPO_ROOT


def parse_size(text: str) -> tuple[int, int]:
    """``1920x1080`` -> (height 1080, width 1920)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UserError(f"{text!r}: give a size as WIDTHxHEIGHT, e.g. 1920x1080") from None
    if width < 1 or height < 1:
        raise UserError(f"{text!r}: both sides must be at least 1 pixel")
    return height, width


def measure(models: Sequence[str] | None, height: int, width: int, tta: str) -> dict:
    """Score one pair of ``height`` x ``width`` in this process: seconds and memory in MiB."""
    import numpy as np

    from asna.api.metric import load_metric

    start = time.perf_counter()
    metric = load_metric(models=list(models) if models else None, tta=tta)
    loaded = time.perf_counter() - start
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    distorted = reference.copy()
    distorted[::7] = 255 - distorted[::7]
    side = max(metric.scorer.image_size, 16)
    metric.score(reference[:side, :side], distorted[:side, :side])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    score = metric.score(reference, distorted)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"size": f"{width}x{height}", "tta": tta, "score": round(float(score), 4),
            "seconds": round(seconds, 2), "load_seconds": round(loaded, 2), "peak_mib": round(peak),
            "rise_mib": round(peak - before), "images_mib": round(2 * height * width * 3 / 2 ** 20)}


def measure_in_fresh_process(models: Sequence[str] | None, height: int, width: int, tta: str,
                             timeout: float) -> dict:
    """:func:`measure` in a child process; a case over ``timeout`` seconds is reported as such."""
    command = [sys.executable, "-m", "asna.profiling.single_pair", str(height), str(width), tta, *(models or [])]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                              os.environ.get("PYTHONPATH")]))}
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
    except subprocess.TimeoutExpired:
        return {"size": f"{width}x{height}", "tta": tta, "timed_out_after_s": timeout}
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"the {width}x{height} {tta} case failed: {last}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def format_row(row: dict) -> str:
    """One line of the printed table."""
    if "timed_out_after_s" in row:
        return f"{row['size']:>11}  {row['tta']:>5}  not done in {row['timed_out_after_s']:.0f} s"
    return (f"{row['size']:>11}  {row['tta']:>5}  {row['seconds']:9.2f} s  peak {row['peak_mib']:6d} MiB  "
            f"scoring raised it by {row['rise_mib']:5d} MiB  (the two images: {row['images_mib']} MiB)  "
            f"score {row['score']}")


if __name__ == "__main__":  # the child process of measure_in_fresh_process
    from asna.core.quiet import quiet_tensorflow

    quiet_tensorflow()
    print(json.dumps(measure(sys.argv[4:], int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])))
