"""The full-resolution check: the validation and test photographs at their own size, as labelled folders.

The HDF5 files hold small crops of photographs first shrunk to 1.5 x the crop
side, but users score photographs at their own resolution through the folder
path (``Ref/``, ``Dis/``, tiles of the network's size). These two folders,
written inside the built-in set's data folder, check a model there:

* ``full_val/``: the validation photographs (``VAL_PHOTOGRAPHS``), distorted by
  the main generator (``asna.data.distortions``, the one the HDF5 files use);
  pooling and recipe choices are made on it;
* ``full_test/``: the test photographs (``TEST_PHOTOGRAPHS``), distorted by the
  second implementation (``asna.data.xtest_distortions``, the types it covers).

Each photograph is never resized: only its central window is kept, at most
``MAX_SIDE`` px per side and cut down to a multiple of ``MULTIPLE`` (16: whole
JPEG macroblocks, and whole tiles of 16-multiple network sizes). Grey
photographs are used as 3-channel images and skip the colour-only types, as in
the HDF5 files. Levels are exact (no jitter) and labels are KADID-10k's mean
MOS per (type, level), as in the validation and test files.

Layout (the challenge folders' one; ``asna.evaluation.folders`` reads it)::

    full_test/Ref/chelsea.png
    full_test/Dis/chelsea_10_03.png      <photo>_<type, 2 digits>_<level, 2 digits>
    full_test/labels.txt                 chelsea_10_03.png,2.73
    full_test/options.json               what decides the contents; a rebuild only when it changes

A folder is written under a hidden temporary name beside it
(``.full_test.partial``) and renamed when complete, so a killed run never
leaves a folder that looks finished, and a finished folder is replaced only
by a complete new one. Random draws come from the build seed and the
photograph's index, so equal options give equal folders whatever the number
of workers.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from asna.core.errors import UserError
from asna.data import xtest_distortions
from asna.data.distortions import BY_ID, DISTORTIONS, LEVELS, distort, read_mos_table

MAX_SIDE = 640  # px per side of the central window kept of each photograph
MULTIPLE = 16  # window sides are cut down to a multiple of this
FORMAT_VERSION = 1  # bump when the way the folders are made changes: folders of older versions are rebuilt
OPTIONS_FILE = "options.json"
ALL_TYPES = tuple(d.type_id for d in DISTORTIONS)
GENERATORS = {"main": "asna.data.distortions", "xtest": "asna.data.xtest_distortions"}


@dataclass(frozen=True)
class FolderSpec:
    """One of the two folders: its name, photographs, generator and random stream."""

    name: str
    photographs: tuple[str, ...]
    generator: str  # a key of GENERATORS
    stream: int  # keeps its draws apart from the HDF5 files' and the other folder's


def specs() -> tuple[FolderSpec, FolderSpec]:
    """``full_val`` (main generator) and ``full_test`` (second implementation)."""
    from asna.data.photographs import TEST_PHOTOGRAPHS, VAL_PHOTOGRAPHS

    return (FolderSpec("full_val", tuple(VAL_PHOTOGRAPHS), "main", 4),
            FolderSpec("full_test", tuple(TEST_PHOTOGRAPHS), "xtest", 5))


FOLDERS = ("full_val", "full_test")


@dataclass
class FolderSummary:
    """What one folder holds, for the end-of-run line and the tests."""

    name: str
    path: Path
    pairs: int
    photographs: dict[str, tuple[int, int]]  # name -> (height, width) of its window
    seconds: float
    reused: bool = False

    def line(self) -> str:
        """One line: pairs, photographs with their sizes, seconds (or that it was reused)."""
        sizes = ", ".join(f"{name} {width}x{height}" for name, (height, width) in self.photographs.items())
        how = "reused (options match)" if self.reused else f"written in {self.seconds:.1f} s"
        return f"{self.name}: {self.pairs} pairs from {len(self.photographs)} photographs ({sizes}); {how}"


def window_box(height: int, width: int, max_side: int, multiple: int = MULTIPLE) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the central window: at most ``max_side``, a multiple of ``multiple``."""
    sides = [min(side, max_side) // multiple * multiple for side in (height, width)]
    if min(sides) < multiple:
        raise UserError(f"photograph of {width}x{height}: too small for a {multiple}-px multiple window")
    return (height - sides[0]) // 2, (width - sides[1]) // 2, sides[0], sides[1]


def central_window(image: np.ndarray, max_side: int, multiple: int = MULTIPLE) -> np.ndarray:
    """The photograph's central window, pixel for pixel (never resized)."""
    top, left, height, width = window_box(*image.shape[:2], max_side, multiple)
    return np.ascontiguousarray(image[top:top + height, left:left + width])


def load_window(name: str, max_side: int) -> tuple[np.ndarray, bool] | None:
    """A photograph's central window as uint8 RGB and whether it is grey; None when not bundled."""
    from asna.data.photographs import PHOTOGRAPHS, as_rgb, load_photograph

    entry = next((e for e in PHOTOGRAPHS if e[0] == name), None)
    if entry is None:
        raise UserError(f"photograph {name!r}: not one of the built-in set's photographs")
    if "_" in name:  # the folders' readers take the reference as the name's part before the first "_"
        raise UserError(f"photograph {name!r}: a full-resolution reference name must not contain '_'")
    raw = load_photograph(entry[1], entry[2])
    return None if raw is None else (central_window(as_rgb(raw), max_side), entry[3])


def covered_types(spec: FolderSpec, type_ids: Sequence[int]) -> list[int]:
    """The types a folder uses: all given ones (main), those the second implementation covers (xtest)."""
    if spec.generator == "xtest":
        return [t for t in type_ids if t in xtest_distortions.TYPE_IDS]
    return list(type_ids)


def folder_options(spec: FolderSpec, max_side: int, seed: int, type_ids: Sequence[int]) -> dict:
    """Everything that decides a folder's contents (JSON types only, to compare with what is read back)."""
    return {"format_version": FORMAT_VERSION, "folder": spec.name, "photographs": list(spec.photographs),
            "max_side": int(max_side), "multiple": MULTIPLE, "seed": int(seed),
            "type_ids": [int(t) for t in covered_types(spec, type_ids)],
            "generator": GENERATORS[spec.generator], "levels": list(LEVELS), "image_format": "png",
            "labels": "KADID-10k mean MOS per (type, level), 1-5, higher is better"}


def read_options(folder: str | os.PathLike) -> dict | None:
    """The options a finished folder was made with; None when it has no readable ``options.json``."""
    try:
        return json.loads((Path(folder) / OPTIONS_FILE).read_text())
    except (OSError, ValueError):
        return None


def distorted_name(photo: str, type_id: int, level: int) -> str:
    """``chelsea_10_03.png``: the ``<ref>_<type>_<level>`` pattern per-type reports parse."""
    return f"{photo}_{type_id:02d}_{level:02d}.png"


Task = tuple[np.ndarray, str, int, int, int, str, int, str]  # window, photo, index, type, seed, generator, stream, Dis


def distort_type(task: Task) -> list[tuple[str, int, int]]:
    """Write one photograph's five levels of one type as PNGs; runs in a worker process.

    Returns ``(name, type, level)`` of each image written.
    """
    image, photo, index, type_id, seed, generator, stream_id, dis_dir = task
    cv2.setNumThreads(1)
    stream = [seed, stream_id, index]
    written = []
    for level in LEVELS:
        if generator == "main":
            out = distort(image, type_id, level, stream, 0.0)
        else:
            out = xtest_distortions.distort(image, type_id, level, stream)
        name = distorted_name(photo, type_id, level)
        if not cv2.imwrite(str(Path(dis_dir) / name), out[..., ::-1]):
            raise UserError(f"{Path(dis_dir) / name}: could not be written")
        written.append((name, type_id, level))
    return written


def run_tasks(tasks: Sequence[Task], workers: int) -> Iterator[list[tuple[str, int, int]]]:
    """Each task's result in order; in ``workers`` processes when more than one (at most 2 x workers queued)."""
    if workers <= 1:
        yield from map(distort_type, tasks)
        return
    from asna.data.workers import worker_pool

    with worker_pool(workers) as pool:
        pending = deque(pool.submit(distort_type, task) for task in tasks[:2 * workers])
        for task in list(tasks[2 * workers:]) + [None] * min(len(tasks), 2 * workers):
            result = pending.popleft().result()
            if task is not None:
                pending.append(pool.submit(distort_type, task))
            yield result


def check_target(path: Path) -> None:
    """An existing folder is replaced only when this module made it (it has ``options.json``)."""
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and read_options(path) is None)):
        raise UserError(f"{path}: exists and is not a full-resolution folder (no readable {OPTIONS_FILE}); "
                        "move it away or choose another data folder")


def check_targets(data_dir: str | os.PathLike) -> None:
    """Refuse, before any long work, a data folder whose ``full_val``/``full_test`` would not be ours to replace."""
    for name in FOLDERS:
        check_target(Path(data_dir) / name)


def publish(temporary: Path, path: Path) -> None:
    """Rename the complete temporary folder into place; an older folder is removed only after that."""
    old = path.with_name(f".{path.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if path.exists():
        os.replace(path, old)
    os.replace(temporary, path)
    shutil.rmtree(old, ignore_errors=True)


def write_folder(path: Path, spec: FolderSpec, max_side: int, seed: int, type_ids: Sequence[int],
                 workers: int, progress: Callable[[Iterable, int], Iterable] | None) -> FolderSummary:
    """Build one folder under ``.<name>.partial`` and rename it into place when complete."""
    started = time.perf_counter()
    table = read_mos_table()
    temporary = path.with_name(f".{path.name}.partial")
    if temporary.exists():  # left by a killed run
        shutil.rmtree(temporary)
    (temporary / "Ref").mkdir(parents=True)
    (temporary / "Dis").mkdir()
    try:
        tasks, sizes = [], {}
        for index, photo in enumerate(spec.photographs):
            loaded = load_window(photo, max_side)
            if loaded is None:
                continue  # not bundled offline (as synthetic.py skips it)
            image, grey = loaded
            sizes[photo] = image.shape[:2]
            cv2.imwrite(str(temporary / "Ref" / f"{photo}.png"), image[..., ::-1])
            tasks += [(image, photo, index, t, seed, spec.generator, spec.stream, str(temporary / "Dis"))
                      for t in covered_types(spec, type_ids) if not (grey and BY_ID[t].colour_only)]
        if not tasks:
            raise UserError(f"{path}: none of {', '.join(spec.photographs)} is bundled with scikit-image here")
        results: Iterable = run_tasks(tasks, workers)
        if progress is not None:
            results = progress(results, len(tasks))
        labels = [f"{name},{table[(t, level)].mos_mean:g}" for written in results for name, t, level in written]
        (temporary / "labels.txt").write_text("\n".join(sorted(labels)) + "\n")
        options = folder_options(spec, max_side, seed, type_ids)
        (temporary / OPTIONS_FILE).write_text(json.dumps(options, indent=2) + "\n")
        publish(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return FolderSummary(spec.name, path, len(labels), sizes, time.perf_counter() - started)


def existing_summary(path: Path) -> FolderSummary:
    """The summary of a folder that is reused: pairs from its labels, sizes from its references."""
    pairs = sum(1 for line in (path / "labels.txt").read_text().splitlines() if line.strip())
    sizes = {}
    for reference in sorted((path / "Ref").glob("*.png")):
        image = cv2.imread(str(reference), cv2.IMREAD_UNCHANGED)
        sizes[reference.stem] = tuple(image.shape[:2]) if image is not None else (0, 0)
    return FolderSummary(path.name, path, pairs, sizes, 0.0, reused=True)


def check_arguments(max_side: int, seed: int, type_ids: Sequence[int], workers: int) -> None:
    """One-line UserErrors for values the folders cannot be made with."""
    if max_side < MULTIPLE:
        raise UserError(f"full-resolution max side {max_side}: must be {MULTIPLE} or more")
    from asna.data.photographs import check_seed_and_types

    check_seed_and_types(seed, type_ids)
    if workers < 1:
        raise UserError(f"--workers {workers}: must be 1 or more")


def build_full_resolution(data_dir: str | os.PathLike, seed: int = 0, type_ids: Sequence[int] = ALL_TYPES,
                          max_side: int | None = None, workers: int = 1,
                          progress: Callable[[Iterable, int], Iterable] | None = None) -> list[FolderSummary]:
    """Write (or reuse, while their options match) ``full_val/`` and ``full_test/`` in ``data_dir``.

    ``max_side`` defaults to ``MAX_SIDE`` (read at call time, so tests can lower it);
    ``progress(iterable, total)`` wraps each folder's per-(photograph, type) loop (e.g. tqdm).
    """
    from asna.data.layout import claim, release

    max_side = MAX_SIDE if max_side is None else max_side
    check_arguments(max_side, seed, type_ids, workers)
    out = Path(data_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: the data folder must be a folder")
    out.mkdir(parents=True, exist_ok=True)
    summaries = []
    for spec in specs():
        path = out / spec.name
        if read_options(path) == folder_options(spec, max_side, seed, type_ids):
            summaries.append(existing_summary(path))
            continue
        check_target(path)
        lock = claim(path)
        try:
            summaries.append(write_folder(path, spec, max_side, seed, type_ids, workers, progress))
        finally:
            release(lock)
    return summaries


def folder_photographs(folder: str | os.PathLike) -> list[str] | None:
    """The photographs a full-resolution folder holds (its references); None for other folders."""
    if read_options(folder) is None:
        return None
    return sorted(path.stem for path in (Path(folder) / "Ref").glob("*.png"))


__all__ = ["build_full_resolution", "check_targets", "folder_options", "read_options", "central_window", "window_box",
           "distorted_name", "folder_photographs", "FolderSummary", "FOLDERS", "MAX_SIDE", "MULTIPLE"]
