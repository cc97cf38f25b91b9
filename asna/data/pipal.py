"""PIPAL (NTIRE 2021 training release) as it comes, in any of its folder namings.

J. Gu, H. Cai, H. Chen, X. Ye, J. Ren, C. Dong, "PIPAL: a Large-Scale Image
Quality Assessment Dataset for Perceptual Image Restoration", ECCV 2020.

Layout: ``Train_Ref/A0001.bmp``, ``Train_Label/A0001.txt`` with lines
``A0001_00_00.bmp,1520.0648``, and the distorted images in a folder whose name
changed between releases (``Train_Dis/``, ``training_inp/``,
``Distortion_1 ... Distortion_4/``): they are found anywhere below the folder
the user names. The name's middle field (``00`` of ``A0001_00_00.bmp``) is the
distortion type, stored with each pair. The original held the whole set in
memory (16 GB and more); here it is streamed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asna.core.errors import UserError
from asna.data.images import require_size
from asna.data.layout import type_from_name
from asna.data.preparation import (FileIndex, Fit, LabelBook, PairSpec, Problems, SourcePairs, parse_score,
                                   read_label_lines, require_child, require_folder)

PIPAL_STANDARDIZATION = (1449.05, 121.35)
"""The original's mean and std of the ELO scores (measured over 23,200 labels: 1448.96, 121.5)."""

HINT = "the folder given must hold Train_Ref/ and Train_Label/, and the distorted images below it"


def pipal_fit(image_size: int) -> Fit:
    """PIPAL images are already the networks' 288 x 288: they are only checked."""
    def fit(image: np.ndarray, path: Path) -> np.ndarray:
        return require_size(image, image_size, image_size, path, hint="PIPAL images must be --image-size square")
    return fit


def collect_pairs(root: str | Path, image_size: int, problems: Problems) -> SourcePairs:
    """One pair per label line; files checked before anything is written."""
    root = require_folder(root, "--pipal")
    reference_dir = require_child(root, "Train_Ref", hint=HINT)
    label_dir = require_child(root, "Train_Label", hint=HINT)
    references = FileIndex(reference_dir)
    distorted = FileIndex(root, recursive=True, exclude=(reference_dir, label_dir))
    if not len(distorted):
        raise UserError(f"{root}: no distorted images in any folder below it ({HINT})")
    label_files = sorted(path for path in label_dir.iterdir()
                         if path.is_file() and path.suffix.lower() == ".txt")
    if not label_files:
        raise UserError(f"{label_dir}: no .txt label files")
    pairs = []
    book = LabelBook()  # a name labelled twice with two scores is refused, naming both lines
    for path in label_files:
        for number, line in read_label_lines(path):
            where = f"{path}:{number}"
            name = line.split(",", 1)[0].strip() or where
            pair = problems.attempt(name, _pair, line, where, references, distorted)
            if pair is not None and book.add(name, pair.mos, where):
                pairs.append(pair)
    return SourcePairs("pipal", pairs, pipal_fit(image_size))


def _pair(line: str, where: str, references: FileIndex, distorted: FileIndex) -> PairSpec:
    fields = [field.strip() for field in line.split(",")]
    if len(fields) != 2 or not fields[0]:
        raise UserError(f"{where}: expected '<file name>,<score>', got {line!r}")
    name, score = fields
    mos = parse_score(score, where)
    reference_name = name.split("_", 1)[0]
    if reference_name == name:
        raise UserError(f"{where}: {name!r} is not a PIPAL name like A0001_00_00.bmp")
    reference_path = references.require(reference_name, where, f"reference image {reference_name} of {name}",
                                        stem=True)
    distorted_path = distorted.require(name, where)
    return PairSpec(source="pipal", ref_id=f"pipal/{reference_path.stem}", reference=reference_path,
                    distorted=distorted_path, dist_name=distorted_path.name, mos=mos,
                    dist_type=type_from_name(distorted_path.name))
