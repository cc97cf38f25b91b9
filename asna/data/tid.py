"""TID2008 and TID2013 as they come out of their archives.

N. Ponomarenko et al., "TID2008 - A Database for Evaluation of Full-Reference
Visual Quality Assessment Metrics", 2009; "Image database TID2013:
Peculiarities, results and perspectives", Signal Processing: Image
Communication 30, 2015.

Layout: ``reference_images/I01.BMP ...``, ``distorted_images/iRR_TT_L.bmp`` and
``mos_with_names.txt`` (``<mos> <file name>`` per line); ``TT`` of the name is the
distortion type (``TID2013_TYPES``), stored with each pair. The archives mix
``I25.BMP`` with ``i25.bmp`` and ``I01_01_1.bmp`` with ``i14_04_3.bmp``, so names
are matched ignoring case instead of asking users to rename files.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from asna.core.errors import UserError
from asna.data.images import center_crop
from asna.data.preparation import (FileIndex, Fit, LabelBook, PairSpec, Problems, SourcePairs, parse_score,
                                   read_label_lines, require_child, require_folder)

TID_SOURCES = ("tid2008", "tid2013")
TID_STANDARDIZATION = (4.47, 1.30)
"""The original's mean and std for both TID sets (measured: 4.480/1.342 and 4.475/1.240)."""

TID2013_TYPES = {
    1: "additive Gaussian noise", 2: "additive noise in colour components", 3: "spatially correlated noise",
    4: "masked noise", 5: "high-frequency noise", 6: "impulse noise", 7: "quantisation noise",
    8: "Gaussian blur", 9: "image denoising", 10: "JPEG compression", 11: "JPEG 2000 compression",
    12: "JPEG transmission errors", 13: "JPEG 2000 transmission errors", 14: "non-eccentricity pattern noise",
    15: "local block-wise distortions", 16: "mean shift (intensity)", 17: "contrast change",
    18: "change of colour saturation", 19: "multiplicative Gaussian noise", 20: "comfort noise",
    21: "lossy compression of noisy images", 22: "colour quantisation with dither", 23: "chromatic aberrations",
    24: "sparse sampling and reconstruction"}
"""TID2013's 24 distortion types (the second field of ``i01_10_3.bmp``), as its paper lists them."""
TID2008_TYPES = {number: name for number, name in TID2013_TYPES.items() if number <= 17}
"""TID2008 has the first 17 of them, under the same numbers."""

LABEL_FILE = "mos_with_names.txt"
DISTORTED_NAME = re.compile(r"^i(?P<reference>\d+)_(?P<type>\d+)_\d+\.[a-z0-9]+$", re.IGNORECASE)


def tid_fit(image_size: int) -> Fit:
    """TID images (512 x 384) are centre-cropped to the canvas, as the original did."""
    def fit(image: np.ndarray, path: Path) -> np.ndarray:
        return center_crop(image, image_size, path)
    return fit


def reference_key(number: str) -> str:
    """``I01``: the reference's name, shared by TID2008 and TID2013 (same 25 photographs)."""
    return f"I{int(number):02d}"


def collect_pairs(root: str | Path, source: str, image_size: int, problems: Problems) -> SourcePairs:
    """One pair per line of ``mos_with_names.txt``; files checked before anything is written."""
    if source not in TID_SOURCES:
        raise ValueError(f"unknown TID version {source!r}")
    root = require_folder(root, f"--{source}")
    hint = "the folder given must hold reference_images/, distorted_images/ and mos_with_names.txt"
    references = FileIndex(require_child(root, "reference_images", hint=hint))
    distorted = FileIndex(require_child(root, "distorted_images", hint=hint))
    labels = require_child(root, LABEL_FILE, is_dir=False, hint=hint)
    pairs = []
    book = LabelBook()  # a name given twice with two scores is refused, naming both lines
    for number, line in read_label_lines(labels):
        where = f"{labels}:{number}"
        fields = line.split()
        pair = problems.attempt(fields[-1], _pair, fields, where, source, references, distorted)
        if pair is not None and book.add(fields[-1], pair.mos, where):
            pairs.append(pair)
    return SourcePairs(source, pairs, tid_fit(image_size))


def _pair(fields: list[str], where: str, source: str, references: FileIndex,
          distorted: FileIndex) -> PairSpec:
    if len(fields) != 2:
        raise UserError(f"{where}: expected '<mos> <file name>', got {' '.join(fields)!r}")
    score, name = fields
    mos = parse_score(score, where)
    match = DISTORTED_NAME.match(name)
    if match is None:
        raise UserError(f"{where}: {name!r} is not a TID image name like i01_01_1.bmp")
    distorted_path = distorted.require(name, where)
    key = reference_key(match["reference"])
    reference_path = references.require(key, where, f"reference image {key} of {name}", stem=True)
    return PairSpec(source=source, ref_id=f"{source}/{key}", reference=reference_path,
                    distorted=distorted_path, dist_name=distorted_path.name, mos=mos, group=f"tid/{key}",
                    dist_type=str(int(match["type"])))
