"""Reading dataset images and fitting them to the square canvas the networks take.

Every reader goes through :func:`read_rgb`, so an unreadable or truncated file
always ends as one :class:`~asna.core.errors.UserError` naming the file, never as a
``None`` that fails later or an OpenCV message on stderr.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from asna.core.errors import UserError

LIGHTNESS_RANGE = (0.3, 1.5)
"""Range of the factor the original drew to scale the Lab L channel of both images."""


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for a moment: libpng prints its own errors there."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file as an H x W x 3 uint8 RGB array, or raise ``UserError``.

    Truncated BMP and PNG files make OpenCV's decoders fail, so a partial image
    is never returned; grey and RGBA files come back as 3-channel RGB (alpha
    dropped). Deeper samples are mapped onto 0-255 by their full range, never
    cut as if they were 8-bit: 16-bit files (PNG, TIFF) by ``round(v / 257)``
    (65535 is white), float files (TIFF) by ``round(v * 255)`` when every value
    lies in [0, 1]. Float files outside [0, 1] (HDR, 0-255 floats), signed and
    32-bit integer samples are refused with one line.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise UserError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if data.size == 0:
        raise UserError(f"{path}: the file is empty")
    image = _decode(data)
    if image is None:
        raise UserError(f"{path}: not a readable image (corrupt, truncated or an unknown format)")
    return cv2.cvtColor(_to_8_bit(image, path), cv2.COLOR_BGR2RGB)


def _decode(data: np.ndarray) -> np.ndarray | None:
    """BGR at the file's own depth; ``None`` when OpenCV cannot decode it.

    ``IMREAD_COLOR | IMREAD_ANYDEPTH`` keeps 16-bit and float samples and turns
    grey and alpha into BGR (and applies a JPEG's EXIF orientation, like plain
    ``IMREAD_COLOR``); OpenCV's TIFF reader gives up on grey or RGBA float
    files that way, so those are read unchanged and given three channels here.
    """
    for flags in (cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH, cv2.IMREAD_UNCHANGED):
        with _quiet_stderr():
            try:
                image = cv2.imdecode(data, flags)
            except cv2.error:
                image = None
        if image is None:
            continue
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim == 3 and image.shape[2] in (1, 2):  # grey, grey + alpha
            return np.ascontiguousarray(np.repeat(image[:, :, :1], 3, axis=2))
        if image.ndim == 3 and image.shape[2] in (3, 4):  # BGR, BGRA
            return np.ascontiguousarray(image[:, :, :3])
    return None


UINT16_TO_8 = 65535 / 255  # = 257: 16-bit white maps to 255, and 257 * k to k exactly


def _to_8_bit(image: np.ndarray, path: Path) -> np.ndarray:
    """uint8 samples of a decoded image, scaled by the full range of its depth."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return np.rint(image / UINT16_TO_8).astype(np.uint8)
    if image.dtype in (np.float32, np.float64, np.float16):
        finite = np.isfinite(image)
        if not finite.all():
            raise UserError(f"{path}: a float image with NaN or infinite values; only float images "
                            f"with every value in [0, 1] are read")
        low, high = float(image.min()), float(image.max())
        if low < 0.0 or high > 1.0:
            raise UserError(f"{path}: a float image with values in [{low:.4g}, {high:.4g}]; only float "
                            f"images with every value in [0, 1] (0 black, 1 white) are read (save it "
                            f"as 8- or 16-bit, or scale it to [0, 1])")
        return np.rint(image.astype(np.float64) * 255.0).astype(np.uint8)
    raise UserError(f"{path}: {image.dtype} samples are not read (only 8- and 16-bit unsigned "
                    f"integer or [0, 1] float images); save it as an 8- or 16-bit image")


def describe_size(shape: tuple[int, ...]) -> str:
    """``WxH`` of an array shape, the way image tools print sizes, for error messages."""
    return f"{shape[1]}x{shape[0]}"


def center_crop(image: np.ndarray, size: int, path: str | os.PathLike = "image") -> np.ndarray:
    """The central ``size`` x ``size`` window; odd margins leave the extra pixel at the end."""
    height, width = image.shape[:2]
    if height < size or width < size:
        raise UserError(f"{path}: image is {describe_size(image.shape)}, smaller than the "
                        f"{size}x{size} crop (--image-size)")
    top, left = (height - size) // 2, (width - size) // 2
    return np.ascontiguousarray(image[top:top + size, left:left + size])


def center_pad(image: np.ndarray, size: int, path: str | os.PathLike = "image") -> np.ndarray:
    """Place the image in the centre of a black ``size`` x ``size`` canvas."""
    height, width = image.shape[:2]
    if height > size or width > size:
        raise UserError(f"{path}: image is {describe_size(image.shape)}, bigger than the "
                        f"{size}x{size} canvas (--image-size)")
    canvas = np.zeros((size, size) + image.shape[2:], dtype=image.dtype)
    top, left = (size - height) // 2, (size - width) // 2
    canvas[top:top + height, left:left + width] = image
    return canvas


def require_size(image: np.ndarray, height: int, width: int, path: str | os.PathLike = "image",
                 hint: str = "") -> np.ndarray:
    """Refuse an image whose size is not the one its dataset always has."""
    if image.shape[:2] != (height, width):
        note = f" ({hint})" if hint else ""
        raise UserError(f"{path}: image is {describe_size(image.shape)}, expected {width}x{height}{note}")
    return image


def scale_lightness(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Scale the Lab lightness of a uint8 RGB image by ``factor``; colour is kept.

    The original's intensity augmentation: both images of a pair get the same
    factor, so the difference the network sees is a change of exposure only.
    Float Lab (L in 0..100) avoids the rounding of OpenCV's 8-bit Lab.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {rgb.dtype} {rgb.shape}")
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lab[..., 0] = np.clip(lab[..., 0] * float(factor), 0.0, 100.0)
    out = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


class FittedImageCache:
    """Decoded, fitted images of the last few files, and the errors of bad ones.

    PieAPP uses one distorted image in many label rows and every dataset uses a
    reference many times; a small least-recently-used cache avoids decoding them
    again while keeping memory bounded whatever the dataset's size.
    """

    def __init__(self, max_items: int = 64):
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, str], tuple[np.ndarray, tuple[int, ...]] | UserError] = OrderedDict()

    def get(self, path: Path, fit: Callable[[np.ndarray, Path], np.ndarray],
            fit_name: str) -> tuple[np.ndarray, tuple[int, ...]]:
        """The fitted image of ``path`` and the file's own shape (to check that a pair is aligned).

        A bad file raises the same ``UserError`` each time it is asked for.
        """
        key = (str(path), fit_name)
        if key in self._items:
            self._items.move_to_end(key)
            item = self._items[key]
        else:
            try:
                image = read_rgb(path)
                item = (fit(image, path), image.shape)
            except UserError as error:
                item = error
            self._items[key] = item
            if len(self._items) > self.max_items:
                self._items.popitem(last=False)
        if isinstance(item, UserError):
            raise UserError(str(item))
        return item
