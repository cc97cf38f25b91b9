"""Small copies of the real dataset layouts, for the preparation tests and benchmarks.

Real folder and file names, real label formats (PieAPP's header with its
leading spaces and empty values, TID's mixed-case names, PIPAL's three folder
namings), tiny random images. Each builder returns what a correct preparation
must produce, computed here independently of ``asna``: for every pair the
reference and distorted RGB images after cropping or padding, and the score.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

PIEAPP_HEADER = ("ref. image, distorted image A, distorted image B, raw preference for A, "
                 "processed preference for A")


@dataclass
class ExpectedPair:
    """One pair as the prepared file must hold it."""

    source: str
    ref_id: str
    dist_name: str
    mos: float
    reference: np.ndarray  # fitted S x S x 3 RGB
    distorted: np.ndarray


def random_rgb(name: str, height: int, width: int) -> np.ndarray:
    """A reproducible random image per name, so every file differs from the others."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB array with OpenCV (which expects BGR), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"could not write {path}")


def crop(rgb: np.ndarray, size: int) -> np.ndarray:
    top, left = (rgb.shape[0] - size) // 2, (rgb.shape[1] - size) // 2
    return rgb[top:top + size, left:left + size]


def pad(rgb: np.ndarray, size: int) -> np.ndarray:
    canvas = np.zeros((size, size, 3), np.uint8)
    top, left = (size - rgb.shape[0]) // 2, (size - rgb.shape[1]) // 2
    canvas[top:top + rgb.shape[0], left:left + rgb.shape[1]] = rgb
    return canvas


# ----------------------------------------------------------------------------- TID


TID_REFERENCE_NAMES = {1: "I01.BMP", 2: "i02.bmp", 14: "I14.BMP", 25: "i25.bmp"}
"""Reference file names as the archives mix them."""


def tid_file_name(reference: int, distortion: int, level: int) -> str:
    """On-disk names of distorted images: upper case for some, as in the archives."""
    name = f"i{reference:02d}_{distortion:02d}_{level}.bmp"
    return name.upper() if (reference + distortion + level) % 2 else name


def make_tid(root: Path, version: str, image_size: int = 32, height: int = 36, width: int = 40,
             references: tuple[int, ...] = (1, 2, 14, 25), distortions: int = 2,
             levels: int = 2) -> list[ExpectedPair]:
    """``root`` with reference_images/, distorted_images/ and mos_with_names.txt (lower-case names)."""
    expected, lines = [], []
    for reference in references:
        # both TID versions show the same photographs: same pixels for the same number
        reference_rgb = random_rgb(f"tid-ref-{reference}", height, width)
        write_rgb(root / "reference_images" / TID_REFERENCE_NAMES[reference], reference_rgb)
        for distortion in range(1, distortions + 1):
            for level in range(1, levels + 1):
                file_name = tid_file_name(reference, distortion, level)
                rgb = random_rgb(f"{version}-{file_name}", height, width)
                write_rgb(root / "distorted_images" / file_name, rgb)
                mos = round(0.5 + reference * 0.3 + distortion * 0.7 - level * 0.4, 5)
                lines.append(f"{mos} {file_name.lower()}")  # labels are lower case
                expected.append(ExpectedPair(version, f"{version}/I{reference:02d}", file_name, mos,
                                             crop(reference_rgb, image_size), crop(rgb, image_size)))
    (root / "mos_with_names.txt").write_text("\r\n".join(lines) + "\r\n")
    return expected


# ----------------------------------------------------------------------------- PieAPP


PIEAPP_SPLITS = {"train": (1, 2, 3), "val": (4,), "test": (5,)}


def make_pieapp(root: Path, image_size: int = 32, side: int = 28,
                splits: dict[str, tuple[int, ...]] | None = None) -> tuple[list[ExpectedPair], int]:
    """``root`` as the zip's PieAPP_dataset folder; returns the pairs and the rows without a score.

    Per reference three distorted images and four label rows: processed and raw
    preference given; only raw given (processed empty); neither (skipped); and
    the first image again against another B (a second pair with the same A).
    """
    splits = splits or PIEAPP_SPLITS
    expected, without_score = [], 0
    root.mkdir(parents=True, exist_ok=True)
    for split, references in splits.items():
        (root / f"{split}_reference_list.txt").write_text(
            "".join(f"ref_{number}.png\n" for number in references))
        for number in references:
            reference_rgb = random_rgb(f"pieapp-ref-{number}", side, side)
            write_rgb(root / "reference_images" / split / f"ref_{number}.png", reference_rgb)
            names = [f"distort_{number}_{kind}_{level}.png"
                     for kind, level in (("jpeg", 1), ("blur", 2), ("noise", 3))]
            for name in names:
                write_rgb(root / "distorted_images" / split / f"ref_{number}" / name,
                          random_rgb(f"pieapp-{name}", side, side))
            rows = [(names[0], names[1], "0.3", "0.25"), (names[1], names[2], "0.6", ""),
                    (names[2], names[0], "", ""), (names[0], names[2], "0.9", "0.85")]
            label_name = f"ref_{number}_pairwise_labels.csv"
            if split == "test":  # different columns; the preparation must not read it
                text = "ref. image, distorted image A, distorted image B, preference for A\n"
                text += "".join(f"ref_{number}.png, {a}, {b}, 0.5\n" for a, b, *_ in rows)
            else:
                text = PIEAPP_HEADER + "\n" + "".join(
                    f"ref_{number}.png, {a}, {b}, {raw}, {processed}\n" for a, b, raw, processed in rows)
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / label_name).write_text(text)
            if split == "test":
                continue
            for a, _, raw, processed in rows:
                if not (processed or raw):
                    without_score += 1
                    continue
                expected.append(ExpectedPair(
                    "pieapp", f"pieapp/ref_{number}", a, float(processed or raw),
                    pad(reference_rgb, image_size), pad(random_rgb(f"pieapp-{a}", side, side), image_size)))
    return expected, without_score


# ----------------------------------------------------------------------------- PIPAL


PIPAL_NAMINGS = ("Train_Dis", "training_inp", "Distortion")


def pipal_folder(naming: str, reference: int) -> str:
    """Where the distorted images of a reference lie under each release's naming."""
    if naming == "Distortion":
        return f"Distortion_{(reference - 1) % 4 + 1}"
    return naming


def make_pipal(root: Path, naming: str = "Train_Dis", image_size: int = 32, references: int = 5,
               per_reference: int = 3) -> list[ExpectedPair]:
    """``root`` with Train_Ref/, Train_Label/ and the distorted images in ``naming`` folder(s)."""
    expected = []
    for reference in range(1, references + 1):
        reference_name = f"A{reference:04d}"
        reference_rgb = random_rgb(f"pipal-{reference_name}", image_size, image_size)
        write_rgb(root / "Train_Ref" / f"{reference_name}.bmp", reference_rgb)
        lines = []
        for index in range(per_reference):
            name = f"{reference_name}_{index % 10:02d}_{index // 10:02d}.bmp"
            rgb = random_rgb(f"pipal-{name}", image_size, image_size)
            write_rgb(root / pipal_folder(naming, reference) / name, rgb)
            mos = round(1300.0 + 17.123 * reference + 9.5 * index, 4)
            lines.append(f"{name},{mos}")
            expected.append(ExpectedPair("pipal", f"pipal/{reference_name}", name, mos, reference_rgb, rgb))
        (root / "Train_Label").mkdir(parents=True, exist_ok=True)
        (root / "Train_Label" / f"{reference_name}.txt").write_text("\n".join(lines) + "\n")
    return expected
