"""The classic metrics' scores of a labelled set, kept beside it so a rerun does not recompute them.

PSNR, SSIM, MS-SSIM, GMSD and HaarPSI do not depend on the trained model, yet on
the full-resolution check they take longer than the network: a seed study or a
repeated demo would pay for them on every run. The cache is a JSON file of each
method's per-pair scores, valid only while the set's fingerprint (its pair names and the size and
modification time of every file it is read from) is the one stored with it.
Only callers that own the data folder (the demo, the seed study) ask for one.
Runs side by side (the seed study's ``--jobs``) share it: each writer writes
under a temporary name of its own and renames it into place
(``asna.core.paths.atomic_write``), so a reader sees one writer's whole file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from asna.core.paths import atomic_write


def fingerprint(names: Sequence[str], files: Iterable[str | os.PathLike]) -> str:
    """A digest of the pair names and of each file's path, size and modification time."""
    digest = hashlib.sha256(json.dumps(list(names)).encode())
    for path in sorted(str(p) for p in files):
        stat = os.stat(path)
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def read_cache(path: Path, stamp: str, methods: Sequence[str]) -> dict[str, np.ndarray] | None:
    """The cached scores, or None when there are none for this fingerprint (or they are unreadable)."""
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if stored.get("fingerprint") != stamp or set(stored.get("scores", {})) != set(methods):
        return None
    return {method: np.asarray(stored["scores"][method], dtype=np.float64) for method in methods}


def write_cache(path: Path, stamp: str, scores: dict[str, np.ndarray]) -> None:
    """Keep the scores with the fingerprint they belong to (atomically; the last of writers side by side wins)."""
    payload = {"fingerprint": stamp, "scores": {m: np.asarray(v, np.float64).tolist() for m, v in scores.items()}}
    atomic_write(path, lambda temporary: temporary.write_text(json.dumps(payload)))
