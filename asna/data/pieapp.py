"""PieAPP as it comes out of its zip (the folder that holds ``labels/``).

E. Prashnani, H. Cai, Y. Mostofi, P. Sen, "PieAPP: Perceptual Image-Error
Assessment Through Pairwise Preference", CVPR 2018.

As the original: the train and val label splits (the test split is not used),
one pair per label row, reference = the row's reference, distorted = image A,
score = the processed preference for A (the raw one where that is empty; rows
with neither are skipped and counted). The 256 x 256 images are zero-padded to
the centre of the canvas. PieAPP names no distortion type per image, so the
pairs' ``dist_type`` stays empty.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from asna.core.errors import UserError
from asna.data.images import center_pad, require_size
from asna.data.preparation import (FileIndex, Fit, PairSpec, Problems, SourcePairs, find_child,
                                   parse_score, require_child, require_folder)

PIEAPP_STANDARDIZATION = (0.47, 0.26)
"""The original's mean and std of the preference for A (measured on train: 0.474, 0.268)."""

PIEAPP_SIZE = 256
LABEL_SPLITS = ("train", "val")
LABEL_SUFFIX = "_pairwise_labels.csv"
REFERENCE, IMAGE_A = "ref. image", "distorted image a"
RAW, PROCESSED = "raw preference for a", "processed preference for a"
HINT = "the folder given must hold labels/, reference_images/ and distorted_images/"


def pieapp_fit(image_size: int, pieapp_size: int = PIEAPP_SIZE) -> Fit:
    """Check the release's fixed size, then zero-pad to the centre of the canvas."""
    if pieapp_size > image_size:
        raise UserError(f"--pieapp-size {pieapp_size}: PieAPP images would not fit the "
                        f"{image_size}x{image_size} canvas (--image-size)")

    def fit(image: np.ndarray, path: Path) -> np.ndarray:
        require_size(image, pieapp_size, pieapp_size, path, hint="the side of every PieAPP image, --pieapp-size")
        return center_pad(image, image_size, path)
    return fit


def collect_pairs(root: str | Path, image_size: int, problems: Problems,
                  pieapp_size: int = PIEAPP_SIZE) -> SourcePairs:
    """Pairs of the train and val label files; files checked before anything is written."""
    fit = pieapp_fit(image_size, pieapp_size)
    root = require_folder(root, "--pieapp")
    labels = require_child(root, "labels", hint=HINT)
    reference_root = require_child(root, "reference_images", hint=HINT)
    distorted_root = require_child(root, "distorted_images", hint=HINT)
    reader = _SplitReader(problems)
    for split in LABEL_SPLITS:
        reader.read_split(require_child(labels, split), require_child(reference_root, split),
                          require_child(distorted_root, split))
    notes = [f"{reader.without_preference} label rows without any preference skipped",
             f"{reader.raw_used} label rows scored with the raw preference (processed one empty)"]
    return SourcePairs("pieapp", reader.pairs, fit, notes)


class _SplitReader:
    """Reads the label files of one split after another, counting rows without a score."""

    def __init__(self, problems: Problems):
        self.problems = problems
        self.pairs: list[PairSpec] = []
        self.without_preference = 0
        self.raw_used = 0

    def read_split(self, label_dir: Path, reference_dir: Path, distorted_dir: Path) -> None:
        label_files = sorted(path for path in label_dir.iterdir()
                             if path.is_file() and path.name.lower().endswith(LABEL_SUFFIX))
        if not label_files:
            raise UserError(f"{label_dir}: no *{LABEL_SUFFIX} label files")
        references = FileIndex(reference_dir)
        distorted: dict[str, FileIndex] = {}
        for path in label_files:
            header, rows = _read_csv(path)
            for number, values in rows:
                where = f"{path}:{number}"
                self.problems.attempt(_pair_name(header, values, where), self._add, header, values,
                                      where, references, distorted, distorted_dir)

    def _add(self, header: list[str], values: list[str], where: str, references: FileIndex,
             distorted: dict[str, FileIndex], distorted_dir: Path) -> None:
        if len(values) != len(header):
            raise UserError(f"{where}: expected {len(header)} comma-separated values, got {len(values)}")
        row = dict(zip(header, (value.strip() for value in values)))
        mos = self._score(row, where)
        if mos is None:
            return
        reference_name, name = row[REFERENCE], row[IMAGE_A]
        reference_path = references.require(reference_name, where, f"reference image {reference_name!r}")
        stem = Path(reference_name).stem
        if name.lower() == reference_name.lower():
            distorted_path = reference_path  # image A can be the reference itself
        else:
            if stem not in distorted:
                distorted[stem] = FileIndex(find_child(distorted_dir, stem) or distorted_dir / stem)
            distorted_path = distorted[stem].require(name, where, repr(name))
        self.pairs.append(PairSpec(source="pieapp", ref_id=f"pieapp/{stem}", reference=reference_path,
                                   distorted=distorted_path, dist_name=distorted_path.name, mos=mos))

    def _score(self, row: dict[str, str], where: str) -> float | None:
        """Processed preference, else raw preference, else ``None`` (counted, not an error)."""
        if row[PROCESSED]:
            return parse_score(row[PROCESSED], where)
        if row[RAW]:
            self.raw_used += 1
            return parse_score(row[RAW], where)
        self.without_preference += 1
        return None


def _pair_name(header: list[str], values: list[str], where: str) -> str:
    """Image A's name for the list of skipped pairs, or the file and line when there is none."""
    column = header.index(IMAGE_A)
    return values[column].strip() if column < len(values) and values[column].strip() else where


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header names (stripped, lower case) and the non-empty rows with their line numbers.

    The release writes ``ref. image, distorted image A, ...``: every name and
    value after a comma keeps its leading space.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path}: not a readable CSV label file ({error})") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if not rows:
        raise UserError(f"{path}: empty label file")
    header = [name.strip().lower() for name in rows[0]]
    missing = [name for name in (REFERENCE, IMAGE_A, RAW, PROCESSED) if name not in header]
    if missing:
        raise UserError(f"{path}: no {missing[0]!r} column in the header")
    body = [(number, values) for number, values in enumerate(rows[1:], start=2)
            if any(value.strip() for value in values)]
    return header, body
