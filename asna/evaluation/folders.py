"""Challenge-style folders: distorted images, their references by name, and label files.

The NTIRE 2021 (PIPAL) layout, also what the built-in set exports:

* ``Ref/A0001.bmp`` — references;
* ``Dis/A0001_10_03.bmp`` — distorted images; the reference is the name's part
  before the first ``_`` with any image extension, matched ignoring case (a name
  without ``_`` of at least four dotted parts, CSIQ's ``1600.AWGN.1.png``, is
  matched by its part before the first ``.``);
* a label file of ``name,score`` lines (``A0001_10_03.bmp,1503.2``).

Only files with an image extension are images; anything else in the folders
(``labels.txt``, ``readme``, ``Thumbs.db``, hidden files, sub-folders) is
ignored. A file with an image extension that does not decode is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from asna.core.errors import UserError
from asna.core.paths import atomic_write, check_writable, refuse_overlaps, sidecar_path
from asna.data.images import FittedImageCache, read_rgb
from asna.data.preparation import LabelBook, parse_score, read_label_lines, require_folder
from asna.evaluation import DEFAULT_POOL
from asna.evaluation.scorer import check_pair_sizes

IMAGE_EXTENSIONS = frozenset({".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp",
                              ".ppm", ".pgm", ".pnm", ".jp2"})
LABEL_HEADER_SCORES = ("score", "mos", "dmos")


@dataclass(frozen=True)
class FolderPair:
    """A distorted image and its reference, by path."""

    name: str
    reference: Path
    distorted: Path


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name (the challenge's order)."""
    return sorted((entry for entry in folder.iterdir()
                   if entry.is_file() and not entry.name.startswith(".")
                   and entry.suffix.lower() in IMAGE_EXTENSIONS), key=lambda p: p.name)


def reference_stem(distorted_name: str) -> str:
    """``A0001`` of ``A0001_10_03.bmp``; ``1600`` of a dotted name ``1600.AWGN.1.png`` (CSIQ's layout)."""
    if "_" in distorted_name:
        return distorted_name.split("_", 1)[0]
    parts = distorted_name.split(".")
    return parts[0] if len(parts) >= 4 else ""


def reference_index(ref_dir: Path) -> dict[str, Path]:
    """References by lower-case stem; two files with one stem are an error."""
    index: dict[str, Path] = {}
    for path in image_files(ref_dir):
        key = path.stem.lower()
        if key in index:
            raise UserError(f"{path}: reference {path.stem} occurs twice (also {index[key].name})")
        index[key] = path
    return index


def match_pairs(ref_dir: str | os.PathLike, dis_dir: str | os.PathLike) -> list[FolderPair]:
    """Every distorted image of ``dis_dir`` with its reference in ``ref_dir``, sorted by name."""
    references = reference_index(require_folder(ref_dir, "--ref-dir"))
    distorted = image_files(require_folder(dis_dir, "--dis-dir"))
    if not distorted:
        raise UserError(f"{dis_dir}: no images here (--dis-dir; extensions "
                        f"{', '.join(sorted(IMAGE_EXTENSIONS))})")
    pairs = []
    for path in distorted:
        stem = reference_stem(path.name)
        if not stem:
            raise UserError(f"{path}: name does not start with a reference id and '_' (A0001_10_03.bmp) "
                            f"or '.' (1600.AWGN.1.png)")
        if stem.lower() not in references:
            raise UserError(f"{path}: its reference {stem}.<image extension> is missing in {ref_dir}")
        pairs.append(FolderPair(path.name, references[stem.lower()], path))
    return pairs


def read_labels(path: str | os.PathLike) -> dict[str, float]:
    """``name -> score`` of a ``name,score`` file (keys lower case); a ``name,score`` header is allowed.

    A name given twice with two scores is refused, naming both lines; the same
    line twice counts once.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: label file not found (--labels)")
    labels: dict[str, float] = {}
    book = LabelBook()
    for number, line in read_label_lines(path):
        fields = [field.strip() for field in line.split(",")]
        where = f"{path}: line {number}"
        if len(fields) != 2 or not fields[0]:
            raise UserError(f"{where}: expected name,score, got {line!r}")
        if number == 1 and fields[1].lower() in LABEL_HEADER_SCORES:
            continue
        score = parse_score(fields[1], where)
        if book.add(fields[0], score, where, f"line {number}"):
            labels[fields[0].lower()] = score
    if not labels:
        raise UserError(f"{path}: no labels in this file")
    return labels


def labelled_pairs(pairs: Sequence[FolderPair], labels: dict[str, float],
                   labels_path: str | os.PathLike) -> tuple[list[FolderPair], np.ndarray]:
    """The pairs and their scores; a label without an image, or an image without a label, is an error."""
    by_name = {pair.name.lower(): pair for pair in pairs}
    missing = sorted(set(labels) - set(by_name))
    if missing:
        raise UserError(f"{labels_path}: {missing[0]} is labelled but not in --dis-dir"
                        f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}")
    unlabelled = [pair.name for pair in pairs if pair.name.lower() not in labels]
    if unlabelled:
        raise UserError(f"{pairs[0].distorted.parent / unlabelled[0]}: no score in {labels_path}"
                        f"{f' (and {len(unlabelled) - 1} more)' if len(unlabelled) > 1 else ''}")
    return list(pairs), np.array([labels[pair.name.lower()] for pair in pairs], dtype=np.float64)


def read_pair(pair: FolderPair, cache: FittedImageCache) -> tuple[np.ndarray, np.ndarray]:
    """Decoded reference (consecutive distorted images share one) and distorted image."""
    reference, distorted = cache.get(pair.reference, lambda image, _: image, "rgb")[0], read_rgb(pair.distorted)
    check_pair_sizes(reference, distorted, str(pair.distorted), str(pair.reference))
    return reference, distorted


def pair_batches(pairs: Sequence[FolderPair], batch_size: int
                 ) -> Iterator[tuple[list[FolderPair], list[np.ndarray], list[np.ndarray]]]:
    """``batch_size`` pairs at a time, decoded, in order."""
    cache = FittedImageCache(4)
    for start in range(0, len(pairs), batch_size):
        chunk = list(pairs[start:start + batch_size])
        images = [read_pair(pair, cache) for pair in chunk]
        yield chunk, [r for r, _ in images], [d for _, d in images]


def pair_files(pairs: Sequence[FolderPair]) -> list[tuple[str, Path]]:
    """The images the pairs are read from, with the option of their folder."""
    return [item for pair in pairs for item in (("--ref-dir", pair.reference), ("--dis-dir", pair.distorted))]


def model_files(infos) -> list[tuple[str, Path]]:
    """The model files and sidecars a command reads: outputs must not replace them either."""
    return [("--models", path) for info in infos for path in (info.path, sidecar_path(info.path))]


def check_output_file(path: str | os.PathLike, option: str) -> Path:
    """Refuse an output path that is a folder or cannot be written, before any work is done."""
    return check_writable(path, option)


def write_scores(path: str | os.PathLike, names: Sequence[str], scores: np.ndarray) -> Path:
    """``name,score`` lines, written under a temporary name and renamed when complete."""
    text = "".join(f"{name},{score:.4f}\n" for name, score in zip(names, scores))
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8", newline="\n"))


def score_folder_pairs(scorer, pairs: Sequence[FolderPair], tta: str, fit: str,
                       source: str | None, progress: bool = True, pool: str = DEFAULT_POOL) -> np.ndarray:
    """Scores of every pair, batched, with a progress bar on a terminal."""
    from tqdm import tqdm

    scores = []
    with tqdm(total=len(pairs), unit="pair", disable=None if progress else True) as bar:
        for chunk, references, distorted in pair_batches(pairs, scorer.batch_size):
            scores.append(scorer.score_pairs(references, distorted, tta, source, fit,
                                             [str(pair.distorted) for pair in chunk], pool))
            bar.update(len(chunk))
    return np.concatenate(scores)


def run_ntire(ref_dir: str, dis_dir: str, out: str, model_paths: Sequence[str] | None, tta: str,
              fit: str, scale_source: str | None, batch_size: int, pool: str = DEFAULT_POOL) -> Path:
    """Everything ``evaluation_ntire.py`` does: check, load, score every image, write ``out``."""
    from asna.evaluation.scorer import QualityScorer, check_sources, inspect_models, resolve_fit

    output = check_output_file(out, "--out")
    pairs = match_pairs(ref_dir, dis_dir)
    infos = inspect_models(model_paths)
    refuse_overlaps([("--out", output)], [*pair_files(pairs), *model_files(infos)])
    check_sources(infos, [scale_source])
    fit = resolve_fit(fit, infos)
    scorer = QualityScorer.load(infos, batch_size)
    scores = score_folder_pairs(scorer, pairs, tta, fit, scale_source, pool=pool)
    write_scores(output, [pair.name for pair in pairs], scores)
    print(f"{len(pairs)} scores ({len(infos)} model(s), TTA {tta}) written to {output}")
    return output
