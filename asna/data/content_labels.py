"""Content-aware training labels: a condition's mean score plus how visible it is on this content.

The built-in set labels every pair with KADID-10k's mean score of its
(distortion type, level), the same on every photograph: nothing in it says that
one blur hurts a textured crop more than a flat one. This module writes a copy
of a prepared file whose labels keep each condition's mean and add a
within-condition term taken from a hand-crafted metric:

``label = condition mean + weight * (f(q) - mean of f(q) over the condition)
+ across * (mean of f(q) over the condition - condition mean)``

where ``q`` is the metric of the pair (HaarPSI by default, or -GMSD) and
``f(q) = a q + b`` its least-squares fit to the labels over the whole file, so
the term is in score units. ``weight`` 0 gives the original labels; 1 gives
the metric's whole within-condition spread. With ``across`` 0 (the default) a
condition's mean label, and so the scale across types, is unchanged exactly;
``across`` moves each condition's mean that share of the way to where the
metric puts it (``weight`` 1 and ``across`` 1: the label is the fitted metric).
Labels are not clipped (a clip at the top of the scale would lower the best
condition's mean). Only ``mos`` and the standardised ``y`` change, with the file's own
standardisation, so a model trained on the copy maps back to the same scale.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asna.core.errors import UserError

METRICS = ("haarpsi", "gmsd")
CONDITION = re.compile(r"_(?P<type>\d+)_(?P<level>\d+)\.[A-Za-z0-9]+$")


@dataclass(frozen=True)
class Relabelled:
    """What a relabelling did: the file, the fit, and how far the labels moved."""

    path: Path
    pairs: int
    conditions: int
    slope: float
    offset: float
    mean_change: float  # mean absolute change of the label
    within_sd: float  # mean over conditions of the new labels' sd


def condition_keys(names: list[str]) -> list[str]:
    """``type_level`` of each ``<ref>_<type>_<level>.<ext>`` name; a name without one is an error."""
    keys = []
    for name in names:
        match = CONDITION.search(name)
        if not match:
            raise UserError(f"{name}: no <type>_<level> in the name, so no condition to relabel within")
        keys.append(f"{int(match['type'])}_{int(match['level'])}")
    return keys


def content_aware(mos: np.ndarray, quality: np.ndarray, keys: list[str], weight: float, across: float = 0.0
                  ) -> tuple[np.ndarray, float, float]:
    """The new labels, and the fit ``a, b`` of ``quality`` to ``mos`` (higher quality = better)."""
    mos = np.asarray(mos, np.float64)
    quality = np.asarray(quality, np.float64)
    design = np.stack([quality, np.ones_like(quality)], axis=1)
    (slope, offset), *_ = np.linalg.lstsq(design, mos, rcond=None)
    fitted = slope * quality + offset
    labels = mos.copy()
    groups = np.asarray(keys, dtype=object)
    for key in set(keys):
        chosen = groups == key
        centre = fitted[chosen].mean()
        labels[chosen] += weight * (fitted[chosen] - centre) + across * (centre - mos[chosen].mean())
    return labels, float(slope), float(offset)


def pair_quality(path: Path, metric: str, batch_size: int = 256) -> np.ndarray:
    """The metric of every pair of a prepared file, oriented so that higher is better.

    A progress bar counts the pairs: on the built-in model's training file (75,200 pairs) this
    takes minutes, the only step of ``--content-labels`` that does."""
    from tqdm import tqdm

    from asna.data.layout import DISTORTED, REFERENCE, open_pairs, read_rows
    from asna.evaluation import similarity

    values = []
    with open_pairs(path) as handle, tqdm(total=len(handle["mos"]), unit="pair", desc=f"{metric} of {path.name}",
                                          disable=None) as bar:
        for start in range(0, len(handle["mos"]), batch_size):
            block = read_rows(handle["x"], slice(start, start + batch_size))
            score = getattr(similarity, metric)(block[:, REFERENCE], block[:, DISTORTED])
            values.append(-score if metric == "gmsd" else score)
            bar.update(len(block))
    return np.concatenate(values)


def relabel(source: str | Path, target: str | Path, weight: float = 1.0, metric: str = "haarpsi",
            across: float = 0.0) -> Relabelled:
    """Copy ``source`` to ``target`` with content-aware labels (see the module's doc)."""
    import h5py

    from asna.core.paths import atomic_write
    from asna.data.layout import decode_strings, open_pairs, read_rows, read_standardization

    if metric not in METRICS:
        raise UserError(f"--metric {metric}: expected one of {', '.join(METRICS)}")
    source, target = Path(source), Path(target)
    if target.resolve() == source.resolve():
        raise UserError(f"{target}: the relabelled copy must not replace its source")
    with open_pairs(source) as handle:
        names = decode_strings(handle["dist_name"][:])
        mos = read_rows(handle["mos"]).astype(np.float64)
        sources = decode_strings(handle["source"][:])
        scale = read_standardization(handle)
    keys = condition_keys(names)
    labels, slope, offset = content_aware(mos, pair_quality(source, metric), keys, weight, across)
    mean = np.array([scale[s][0] for s in sources])
    std = np.array([scale[s][1] for s in sources])

    def write(temporary: Path) -> None:
        shutil.copyfile(source, temporary)
        with h5py.File(temporary, "r+") as handle:
            handle["mos"][:] = labels.astype(np.float32)
            handle["y"][:] = ((labels - mean) / std).astype(np.float32)
            handle.attrs["labels"] = labels_note(metric, weight, across)

    target = atomic_write(target, write)
    groups = np.asarray(keys, dtype=object)
    within = float(np.mean([labels[groups == key].std() for key in set(keys)]))
    return Relabelled(target, len(labels), len(set(keys)), slope, offset,
                      float(np.mean(np.abs(labels - mos))), within)


def labels_note(metric: str, weight: float, across: float) -> str:
    """What a relabelled file's ``labels`` attribute says: how its labels were made."""
    return f"content-aware: {metric}, weight {weight:g}, across {across:g}"


def content_copy(source: str | Path, weight: float, metric: str = "haarpsi", across: float = 0.0) -> Path:
    """``source``'s relabelled copy beside it (``<stem>_content_w<W>.h5``), made once and then reused
    while it is newer than ``source`` and says it was made with these settings, so every seed of a
    study (and a study run in parallel) trains on the same file without computing it again."""
    import h5py

    source = Path(source)
    suffix = f"_content_w{weight:g}" + (f"_a{across:g}" if across else "") + ("" if metric == "haarpsi" else f"_{metric}")
    target = source.with_name(source.stem + suffix + source.suffix)
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        try:
            with h5py.File(target, "r") as handle:
                if handle.attrs.get("labels") == labels_note(metric, weight, across):
                    return target
        except OSError:  # unreadable: made again below
            pass
    return relabel(source, target, weight, metric, across).path
