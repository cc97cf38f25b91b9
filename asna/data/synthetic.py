"""The built-in KADID-style set: scikit-image photographs x KADID-10k distortions.

With no dataset downloaded the project still trains and evaluates end to end on
this set. References are seeded random crops of the photographs scikit-image
ships inside its wheel (nothing is downloaded); each is distorted with the 25
KADID-10k types at 5 levels (``asna.data.distortions``) and labelled with the
mean KADID-10k MOS of that (type, level). Grey photographs are used as 3-channel
images and skip the three types that only change colour (they would be
unchanged yet labelled as damaged).

Photographs are brought to a scale that suits the crop size: one larger than
1.5 x the crop side on its shorter side is shrunk to that (area averaging), so a
small crop still shows a scene rather than a featureless patch; one smaller
than the crop is enlarged once (bicubic, at most 2.5x) before cropping.

Splits are made by photograph, so overlapping crops of one photograph never sit
on two sides; every crop has its own reference id (``A0001`` ...). The split is
fixed by name (``VAL_PHOTOGRAPHS``, ``TEST_PHOTOGRAPHS``), the same for every
seed, so test figures from different seeds score the same photographs: test
holds two colour and two grey photographs (chelsea, coffee, clock, gravel),
validation two colour and one grey (rocket, retina, coins), training the other
ten (five colour, five grey; the two stereo motorcycle views stay together).

Training is made hard to memorise, validation and test are exact:

* training crops come at the photograph's own scale (``native_share`` of them:
  the zoomed-in, often smooth views a user's full-resolution image is tiled
  into) or at a random scale (the shorter side resized to ``scale_range`` x the
  crop side, log-uniform, never past the native size; validation and test use
  1.5 x), with their colour channels in a random order (colour photographs),
  and ``train_crops_per_image`` of them per photograph (default
  ``TRAIN_CROPS_FACTOR`` x ``crops_per_image``); only blank crops are redrawn
  (``TRAIN_MIN_CROP_STD``), so smooth regions stay in proportion;
* each training distortion's strength is drawn around its level
  (``asna.data.distortions.jittered_parameter``, ``jitter`` levels either way),
  while the label stays the level's KADID MOS.

``synthetic_xtest.h5`` holds the test references distorted by the second,
independent implementation of the same types (``asna.data.xtest_distortions``)
at exact levels, with the same labels: it scores quality rather than memory of
this generator's code.

``procedural`` adds that many seeded procedural images (``asna.data.procedural``:
dead leaves, textured leaves; ``leaves_00``, ``texture_01``, ...) to the training
split only, as more photographs would be: cut, varied and distorted the same
way. They come after the photographs, so every photograph keeps its references,
seeds and pairs, and validation and test never see them; with 0 (the default)
the files are those made before the option existed.

Everything random is derived from ``seed``, per reference and type, so the
files are identical for identical arguments, whatever the number of workers.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from itertools import chain
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from asna.core.errors import UserError
from asna.data import procedural as procedural_images
from asna.data import xtest_distortions
from asna.data.distortions import (BY_ID, DISTORTIONS, LEVELS, distort, mos_standardization,
                                   read_mos_table)
from asna.data.layout import PairWriter, open_pairs
from asna.data.photographs import (PHOTOGRAPHS, TEST_PHOTOGRAPHS, VAL_PHOTOGRAPHS, as_rgb,
                                   check_seed_and_types, load_photograph, split_of)
from asna.data.workers import worker_pool

SOURCE = "synthetic"
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 1024
MAX_UPSCALE = 2.5
SCENE_FACTOR = 1.5  # photographs are shrunk to 1.5 x the crop side (shorter side)
MIN_PHOTOGRAPHS = 8
DEFAULT_JITTER = 0.5  # levels either way: each level's strengths reach halfway to its neighbours
DEFAULT_SCALE_RANGE = (1.0, 16.0)  # training crops: photograph's shorter side / crop side (capped at native)
DEFAULT_NATIVE_SHARE = 0.5  # training crops cut from the photograph at its own scale, as users' images come
TRAIN_MIN_CROP_STD = 2.0  # training crops: only blank ones are redrawn, smooth ones are kept as photographs have them
TRAIN_CROPS_FACTOR = 4  # training crops per photograph, by default, per validation/test crop
SPLITS = ("train", "val", "test")
FILES = (*SPLITS, "xtest")  # synthetic_<name>.h5
MIN_CROP_STD = 12.0  # grey-level std below which a crop is too flat to be useful
CROP_TRIES = 40

@dataclass(frozen=True)
class Photograph:
    """One photograph brought to the working scale (and as loaded), as uint8 RGB."""

    name: str
    image: np.ndarray
    grey: bool
    original: np.ndarray


@dataclass(frozen=True)
class Reference:
    """One reference crop: its id, where it came from, its pixels."""

    ref_id: str
    photo: str
    top: int
    left: int
    image: np.ndarray
    grey: bool
    split: str = "train"


@dataclass
class Summary:
    """What a run produced, for the end-of-run report and the tests."""

    pairs: dict[str, int] = field(default_factory=dict)
    references: dict[str, list[str]] = field(default_factory=dict)
    photographs: dict[str, list[str]] = field(default_factory=dict)
    mos: dict[str, list[float]] = field(default_factory=dict)
    skipped_photographs: list[str] = field(default_factory=list)
    xtest_skipped_types: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    full: list = field(default_factory=list)  # asna.data.full_resolution.FolderSummary per folder written or reused


def working_scale(shorter: int, image_size: int) -> float | None:
    """Resize factor for a photograph, or None when it would need > 2.5x enlargement."""
    if shorter * MAX_UPSCALE < image_size:
        return None
    if shorter < image_size:
        return image_size / shorter
    target = round(SCENE_FACTOR * image_size)
    return target / shorter if shorter > target else 1.0


def resize(image: np.ndarray, factor: float, minimum: int) -> np.ndarray:
    """Resize by ``factor``, never below ``minimum`` on either side."""
    if factor == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(minimum, round(width * factor)), max(minimum, round(height * factor)))
    method = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=method)


def prepare_photograph(entry: tuple[str, str, int | None, bool], image_size: int) -> Photograph | str:
    """One ``PHOTOGRAPHS`` entry at the working scale, or why it is skipped."""
    name, function, index, grey = entry
    raw = load_photograph(function, index)
    if raw is None:
        return f"{name} (not bundled offline)"
    rgb = as_rgb(raw)
    factor = working_scale(min(rgb.shape[:2]), image_size)
    if factor is None:
        return f"{name} ({rgb.shape[1]}x{rgb.shape[0]} too small)"
    return Photograph(name, resize(rgb, factor, image_size), grey, rgb)


def load_photographs(image_size: int) -> tuple[list[Photograph], list[str]]:
    """All usable photographs at the working scale, and the names skipped (with why)."""
    photographs, skipped = [], []
    for entry in PHOTOGRAPHS:
        result = prepare_photograph(entry, image_size)
        if isinstance(result, Photograph):
            photographs.append(result)
        else:
            skipped.append(result)
    return photographs, skipped


def procedural_photographs(count: int, image_size: int, seed: int) -> Iterator[Photograph]:
    """The first ``count`` procedural images (``asna.data.procedural``) as training photographs, made one at
    a time (``procedural_side(image_size)`` on a side, never enlarged for a crop)."""
    side = procedural_images.procedural_side(image_size)
    for index in range(count):
        image = procedural_images.procedural_image(procedural_images.kind_of(index), index, seed, side)
        factor = working_scale(side, image_size)
        yield Photograph(procedural_images.procedural_name(index), resize(image, factor, image_size),
                         procedural_images.is_grey(index), image)


def pick_crop(image: np.ndarray, size: int, rng: np.random.Generator,
              min_std: float = MIN_CROP_STD) -> tuple[int, int]:
    """A random crop position whose grey-level std reaches ``min_std`` (best of a few tries otherwise)."""
    height, width = image.shape[:2]
    best, best_std = (0, 0), -1.0
    for _ in range(CROP_TRIES):
        top = int(rng.integers(0, height - size + 1))
        left = int(rng.integers(0, width - size + 1))
        grey = image[top:top + size:2, left:left + size:2].mean(axis=2)
        spread = float(grey.std())
        if spread >= min_std:
            return top, left
        if spread > best_std:
            best, best_std = (top, left), spread
    return best


@dataclass(frozen=True)
class Variation:
    """How training crops vary: their number, scale range, share at native scale and colour-channel order."""

    crops_per_image: int
    scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE
    colour: bool = True
    native_share: float = DEFAULT_NATIVE_SHARE


def varied_scene(photo: Photograph, image_size: int, variation: Variation,
                 rng: np.random.Generator) -> np.ndarray:
    """The photograph as loaded (``native_share`` of the draws), else resized so its shorter side is a
    log-uniform draw from ``scale_range`` x the crop.

    Users score photographs at their own resolution, where a crop is a zoomed-in
    detail rather than a shrunk scene; both kinds go into training.
    """
    shorter = min(photo.original.shape[:2])
    native = rng.uniform() < variation.native_share
    target = shorter if native else image_size * math.exp(rng.uniform(*np.log(variation.scale_range)))
    target = min(max(target, image_size), max(shorter, image_size))  # never enlarged past the crop
    return resize(photo.original, target / shorter, image_size)


def cut(photo: Photograph, scene: np.ndarray, image_size: int, rng: np.random.Generator, number: int,
        split: str, min_std: float = MIN_CROP_STD) -> Reference:
    """One reference crop of ``scene`` (a place at least ``min_std`` busy, seeded)."""
    top, left = pick_crop(scene, image_size, rng, min_std)
    crop = np.ascontiguousarray(scene[top:top + image_size, left:left + image_size])
    return Reference(f"A{number:04d}", photo.name, top, left, crop, photo.grey, split)


def make_references(photographs: Iterable[Photograph], image_size: int, crops_per_image: int,
                    seed: int, variation: Variation | None = None) -> list[Reference]:
    """Seeded crops of every photograph, numbered A0001, A0002, ... photograph by photograph.

    Validation and test photographs give ``crops_per_image`` crops at the
    working scale; training ones follow ``variation`` (the same as validation
    when it is None).
    """
    references: list[Reference] = []
    for number, photo in enumerate(photographs):
        rng = np.random.default_rng([seed, 1, number])
        split = split_of(photo.name)
        if split != "train" or variation is None:
            for _ in range(crops_per_image):
                references.append(cut(photo, photo.image, image_size, rng, len(references) + 1, split))
            continue
        varied = np.random.default_rng([seed, 2, number])
        for _ in range(variation.crops_per_image):
            reference = cut(photo, varied_scene(photo, image_size, variation, varied), image_size,
                            rng, len(references) + 1, split, TRAIN_MIN_CROP_STD)
            if variation.colour and not photo.grey:
                reference = replace(reference, image=np.ascontiguousarray(
                    reference.image[..., varied.permutation(3)]))
            references.append(reference)
    return references


def type_ids_for(reference: Reference, type_ids: Sequence[int]) -> list[int]:
    """The types applied to a reference: colour-only ones are skipped for grey images."""
    return [t for t in type_ids if not (reference.grey and BY_ID[t].colour_only)]


Task = tuple[np.ndarray, int, int, tuple[int, ...], float, bool]  # image, seed, number, types, jitter, xtest


def distort_reference(task: Task) -> list[tuple[int, int, np.ndarray]]:
    """Every (type, level) distortion of one reference for the given types; runs in a worker process.

    The last item of ``task`` picks the second implementation (cross-test set).
    """
    image, seed, number, type_ids, jitter, second = task
    cv2.setNumThreads(1)
    out = []
    for type_id in type_ids:
        for level in LEVELS:
            if second:
                out.append((type_id, level, xtest_distortions.distort(image, type_id, level, (seed, 3, number))))
            else:
                out.append((type_id, level, distort(image, type_id, level, (seed, 3, number), jitter)))
    return out


def distorted_name(ref_id: str, type_id: int, level: int) -> str:
    """Challenge-style file name: A0001_TT_LL.bmp."""
    return f"{ref_id}_{type_id:02d}_{level:02d}.bmp"


def make_tasks(references: Sequence[Reference], type_ids: Sequence[int], seed: int, jitter: float,
               xtest_types: Sequence[int] | None) -> list[Task]:
    """One task per reference (jittered for training), then one per test reference for the cross-test set."""
    tasks: list[Task] = [(r.image, seed, i, tuple(type_ids_for(r, type_ids)),
                          jitter if r.split == "train" else 0.0, False) for i, r in enumerate(references)]
    if xtest_types is not None:
        tasks += [(r.image, seed, i, tuple(type_ids_for(r, xtest_types)), 0.0, True)
                  for i, r in enumerate(references) if r.split == "test"]
    return tasks


def iterate_distortions(tasks: Sequence[Task], workers: int) -> Iterator[list[tuple[int, int, np.ndarray]]]:
    """Distortions per task, in order; in ``workers`` processes when more than one."""
    tasks = list(tasks)
    if workers <= 1:
        yield from map(distort_reference, tasks)
        return
    # at most 2 x workers references in flight, so memory does not grow with the set
    with worker_pool(workers) as pool:
        pending = deque(pool.submit(distort_reference, task) for task in tasks[:2 * workers])
        for task in tasks[2 * workers:] + [None] * min(len(tasks), 2 * workers):
            result = pending.popleft().result()
            if task is not None:
                pending.append(pool.submit(distort_reference, task))
            yield result


def check_arguments(image_size: int, crops_per_image: int, variation: Variation, jitter: float, seed: int,
                    type_ids: Sequence[int], procedural: int = 0) -> None:
    """One-line UserErrors for values the generator cannot use."""
    if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise UserError(f"--image-size {image_size}: must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE}")
    if not 0 <= procedural <= procedural_images.MAX_COUNT:
        raise UserError(f"--procedural {procedural}: must be between 0 and {procedural_images.MAX_COUNT}")
    for option, value in (("--crops-per-image", crops_per_image),
                          ("--train-crops-per-image", variation.crops_per_image)):
        if not 1 <= value <= 100:
            raise UserError(f"{option} {value}: must be between 1 and 100")
    low, high = variation.scale_range
    if not 1.0 <= low <= high <= 16.0:
        raise UserError(f"--scale-range {low:g},{high:g}: needs 1 <= low <= high <= 16")
    if not 0.0 <= variation.native_share <= 1.0:
        raise UserError(f"--native-share {variation.native_share:g}: must be between 0 and 1")
    if not 0.0 <= jitter <= 1.0:
        raise UserError(f"--jitter {jitter:g}: must be between 0 and 1 (levels)")
    check_seed_and_types(seed, type_ids)


def prepare_references(image_size: int, crops_per_image: int, seed: int, variation: Variation | None = None,
                       procedural: int = 0) -> tuple[list[Reference], list[str]]:
    """Load photographs and cut the references, then those of ``procedural`` procedural training images
    (numbered after them); UserError when too few photographs fit or a split is empty."""
    photographs, skipped = load_photographs(image_size)
    if len(photographs) < MIN_PHOTOGRAPHS:
        raise UserError(f"--image-size {image_size}: only {len(photographs)} bundled photographs are "
                        f"large enough (need {MIN_PHOTOGRAPHS}); use a smaller size")
    empty = [split for split in SPLITS if not any(split_of(p.name) == split for p in photographs)]
    if empty:
        raise UserError(f"--image-size {image_size}: no photograph of the {empty[0]} split is large enough; "
                        "use a smaller size")
    made = procedural_photographs(procedural, image_size, seed)
    return make_references(chain(photographs, made), image_size, crops_per_image, seed, variation), skipped


def export_reference(folder: Path, reference: Reference, pairs: Sequence[tuple[str, float, np.ndarray]],
                     labels: list[str]) -> None:
    """Write Ref/A0001.bmp and each (name, MOS, image) as Dis/<name>; append ``name,score`` to labels."""
    cv2.imwrite(str(folder / "Ref" / f"{reference.ref_id}.bmp"), reference.image[..., ::-1])
    for name, mos, image in pairs:
        cv2.imwrite(str(folder / "Dis" / name), image[..., ::-1])
        labels.append(f"{name},{mos:g}")


def prepare_export_folder(folder: str | os.PathLike) -> Path:
    """A new or empty folder with Ref/ and Dis/ inside."""
    path = Path(folder)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"{path}: --export-images needs a new or empty folder")
    (path / "Ref").mkdir(parents=True, exist_ok=True)
    (path / "Dis").mkdir(exist_ok=True)
    return path


def reference_records(references: Sequence[Reference]) -> str:
    """JSON of where each reference came from, stored as a file attribute."""
    return json.dumps({r.ref_id: {"photo": r.photo, "top": r.top, "left": r.left} for r in references})


ALL_TYPES = tuple(d.type_id for d in DISTORTIONS)


def make_variation(crops_per_image: int, train_crops_per_image: int | None = None,
                   scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE, colour: bool = True,
                   native_share: float = DEFAULT_NATIVE_SHARE) -> Variation:
    """The training-crop variation; ``train_crops_per_image`` defaults to ``TRAIN_CROPS_FACTOR`` x
    ``crops_per_image`` (crops are cheap next to training on them)."""
    return Variation(train_crops_per_image or min(100, TRAIN_CROPS_FACTOR * crops_per_image),
                     (float(scale_range[0]), float(scale_range[1])), colour, float(native_share))


def generator_options(image_size: int, crops_per_image: int, seed: int, variation: Variation, jitter: float,
                      type_ids: Sequence[int], procedural: int = 0) -> dict:
    """Everything that decides the files' contents, stored in each file (``options``) to tell a rebuild is due.

    JSON types only (lists, not tuples), so it compares equal to what ``built_options`` reads back.
    ``procedural`` is there only when not 0, so sets made before it existed still match.
    """
    extra = {"procedural": int(procedural)} if procedural else {}
    return {"image_size": image_size, "crops_per_image": crops_per_image, "seed": seed,
            "train_crops_per_image": variation.crops_per_image, "scale_range": list(variation.scale_range),
            "colour_variation": variation.colour, "native_share": variation.native_share,
            "train_min_crop_std": TRAIN_MIN_CROP_STD, "jitter": jitter, "distortion_types": list(map(int, type_ids)),
            "splits": {"val": list(VAL_PHOTOGRAPHS), "test": list(TEST_PHOTOGRAPHS)}, **extra}


def create_synthetic(out_dir: str | os.PathLike, image_size: int = 288, crops_per_image: int = 1,
                     seed: int = 0, export_dir: str | os.PathLike | None = None,
                     type_ids: Sequence[int] = ALL_TYPES, workers: int = 1,
                     progress: Callable[[Iterator, int], Iterator] | None = None,
                     train_crops_per_image: int | None = None,
                     scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE, colour_variation: bool = True,
                     native_share: float = DEFAULT_NATIVE_SHARE,
                     jitter: float = DEFAULT_JITTER, xtest: bool = True, full: bool = False,
                     procedural: int = 0) -> Summary:
    """Write ``synthetic_{train,val,test}.h5``, ``synthetic_xtest.h5`` (unless ``xtest`` is False), the
    optional export folder (train, val and test pairs) and, with ``full``, the full-resolution check
    folders ``full_val/`` and ``full_test/`` (``asna.data.full_resolution``; reused while their options match).

    ``procedural``: procedural images (``asna.data.procedural``) added to the training file only, after
    the photographs (0: none, the files as before).

    ``progress(iterable, total)`` wraps the per-reference loop (e.g. tqdm).
    """
    variation = make_variation(crops_per_image, train_crops_per_image, scale_range, colour_variation, native_share)
    check_arguments(image_size, crops_per_image, variation, jitter, seed, type_ids, procedural)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: --out must be a folder")
    export = prepare_export_folder(export_dir) if export_dir is not None else None
    started = time.perf_counter()
    table = read_mos_table()
    references, skipped = prepare_references(image_size, crops_per_image, seed, variation, procedural)
    xtest_types = [t for t in type_ids if t in xtest_distortions.TYPE_IDS] if xtest else None
    standardization = {SOURCE: mos_standardization(type_ids, table)}
    options = generator_options(image_size, crops_per_image, seed, variation, jitter, type_ids, procedural)
    summary = Summary(skipped_photographs=skipped,
                      xtest_skipped_types={t: xtest_distortions.SKIPPED[t] for t in type_ids
                                           if xtest and t in xtest_distortions.SKIPPED})
    labels: list[str] = []
    names = FILES if xtest else SPLITS
    writers = {name: PairWriter(out / f"synthetic_{name}.h5", image_size, standardization, name, seed,
                                extra_attributes=_attributes(references, name, xtest_types if name == "xtest"
                                                             else type_ids, options))
               for name in names}
    tasks = make_tasks(references, type_ids, seed, jitter, xtest_types)
    chosen = references + [r for r in references if r.split == "test"]
    with ExitStack() as stack:
        for writer in writers.values():
            stack.enter_context(writer)
        results = iterate_distortions(tasks, workers)
        if progress is not None:
            results = progress(results, len(tasks))
        for pairs, reference, task in zip(results, chosen, tasks):
            name = "xtest" if task[-1] else reference.split
            labelled = [(distorted_name(reference.ref_id, type_id, level), table[(type_id, level)].mos_mean,
                         image) for type_id, level, image in pairs]
            for (type_id, _, _), (pair_name, mos, image) in zip(pairs, labelled):
                writers[name].append(reference.image, image, mos, pair_name, reference.ref_id, SOURCE,
                                     dist_type=str(type_id))
                summary.mos.setdefault(name, []).append(mos)
            summary.references.setdefault(name, []).append(reference.ref_id)
            if export is not None and name != "xtest":
                export_reference(export, reference, labelled, labels)
    if export is not None:
        (export / "labels.txt").write_text("\n".join(labels) + "\n")
    summary.pairs = {name: writer.count for name, writer in writers.items()}
    summary.photographs = {name: sorted({r.photo for r in references
                                         if r.split == ("test" if name == "xtest" else name)}) for name in names}
    if full:
        from asna.data.full_resolution import build_full_resolution

        summary.full = build_full_resolution(out, seed, type_ids, workers=workers, progress=progress)
    summary.seconds = time.perf_counter() - started
    return summary


def _attributes(references: Sequence[Reference], name: str, type_ids: Sequence[int],
                options: dict) -> dict[str, str]:
    """Extra file attributes: provenance of the references, the label table and the generator options."""
    split = "test" if name == "xtest" else name
    chosen = [r for r in references if r.split == split]
    generator = ("asna.data.xtest_distortions (second implementation of the KADID-10k types, "
                 "scikit-image photographs)" if name == "xtest"
                 else "asna.data.synthetic (KADID-10k types, scikit-image photographs)")
    if name == "train" and options.get("procedural"):
        generator = generator[:-1] + f" and {options['procedural']} procedural images, asna.data.procedural)"
    return {"generator": generator,
            "labels": "KADID-10k mean MOS per (type, level), 1-5, higher is better",
            "distortion_types": json.dumps(list(map(int, type_ids))),
            "photographs": json.dumps(sorted({r.photo for r in chosen})),
            "options": json.dumps(options),
            "references": reference_records(chosen)}


def built_options(out_dir: str | os.PathLike) -> dict | None:
    """The ``options`` every file in ``out_dir`` was made with, or None when one is missing or they differ."""
    found = []
    for name in FILES:
        path = Path(out_dir) / f"synthetic_{name}.h5"
        if not path.is_file():
            return None
        with open_pairs(path) as handle:
            found.append(handle.attrs.get("options"))
    return json.loads(found[0]) if found[0] is not None and len(set(found)) == 1 else None


def file_photographs(path: str | os.PathLike) -> list[str]:
    """The photographs a file's references were cut from (its ``photographs`` attribute)."""
    with open_pairs(path) as handle:
        return json.loads(handle.attrs["photographs"])


def sources_text(names: Sequence[str]) -> str:
    """The photographs' names, then the procedural images' as a count and their range."""
    made = [name for name in names if procedural_images.is_procedural(name)]
    kept = [name for name in names if name not in made]
    if made:
        made.sort(key=lambda name: int(name.rpartition("_")[2]))
        kept.append(f"{len(made)} procedural ({made[0]}{'' if len(made) == 1 else ' ... ' + made[-1]})")
    return ", ".join(kept)


def summary_lines(summary: Summary, out_dir: str | os.PathLike) -> list[str]:
    """Human-readable end-of-run report."""
    lines = []
    for split in summary.pairs:
        mos = np.array(summary.mos.get(split, []), dtype=np.float64)
        stats = (f"mos mean {mos.mean():.3f} std {mos.std():.3f} min {mos.min():.3f} max {mos.max():.3f}"
                 if mos.size else "no pairs")
        lines.append(f"{split}: {summary.pairs.get(split, 0)} pairs from "
                     f"{len(summary.references.get(split, []))} references "
                     f"({sources_text(summary.photographs.get(split, []))}); {stats}")
        lines.append(f"  -> {Path(out_dir) / f'synthetic_{split}.h5'}")
    if summary.skipped_photographs:
        lines.append("skipped photographs: " + ", ".join(summary.skipped_photographs))
    for type_id, why in summary.xtest_skipped_types.items():
        lines.append(f"xtest: type {type_id} skipped ({why})")
    for folder in summary.full:
        lines += [folder.line(), f"  -> {folder.path}/"]
    lines.append(f"done in {summary.seconds:.1f} s")
    return lines


# ---------------------------------------------------------------- the figure

def grid_tiles(image_size: int, seed: int, photo: str = "astronaut"
               ) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]:
    """One reference crop and all its (type, level) distortions for the figure.

    Only ``photo`` is loaded; if it is unusable, the first usable photograph.
    """
    entries = sorted(PHOTOGRAPHS, key=lambda entry: entry[0] != photo)  # stable: ``photo`` first
    loaded = (prepare_photograph(entry, image_size) for entry in entries)
    chosen = next((p for p in loaded if isinstance(p, Photograph)), None)
    if chosen is None:
        raise UserError(f"--image-size {image_size}: no bundled photograph is large enough")
    reference = cut(chosen, chosen.image, image_size, np.random.default_rng([seed, 1, 0]), 1, "test")
    tiles = {(t, level): image for t, level, image in
             distort_reference((reference.image, seed, 0, tuple(BY_ID), 0.0, False))}
    return reference.image, tiles


def save_grid(path: str | os.PathLike, image_size: int = 96, seed: int = 0) -> Path:
    """PNG: the reference and its 25 types x 5 levels, pixel for pixel, labelled with the MOS."""
    import matplotlib.pyplot as plt

    from asna.core.plots import save_figure  # switches matplotlib to the Agg backend

    reference, tiles = grid_tiles(image_size, seed)
    table = read_mos_table()
    tile, gap, caption, label, head = image_size, 6, 16, 22, image_size + 30
    half_width = label + 5 * (tile + gap)
    width, height = 2 * half_width + 10, head + 13 * (tile + caption + gap)
    canvas = np.full((height, width, 3), 255, np.uint8)
    texts: list[tuple[float, float, str, dict]] = []

    def place(image: np.ndarray, top: int, left: int, title: str) -> None:
        canvas[top + caption:top + caption + tile, left:left + tile] = image
        texts.append((left + tile / 2, top + caption - 3, title, {"ha": "center", "va": "bottom"}))

    place(reference, 0, label, "reference")
    texts.append((label + tile + 20, caption + tile / 2,
                  f"KADID-10k types x levels on a {image_size}x{image_size} crop of skimage 'astronaut'\n"
                  "title: level and its label (KADID-10k mean MOS, 1-5, higher is better)",
                  {"ha": "left", "va": "center"}))
    for number, kind in enumerate(DISTORTIONS):
        column, row = divmod(number, 13)
        top, left = head + row * (tile + caption + gap), column * half_width
        texts.append((left + label - 6, top + caption + tile / 2, f"{kind.type_id:02d} {kind.name}",
                      {"ha": "center", "va": "center", "rotation": 90}))
        for level in LEVELS:
            place(tiles[(kind.type_id, level)], top, left + label + (level - 1) * (tile + gap),
                  f"L{level}  {table[(kind.type_id, level)].mos_mean:.2f}")
    figure = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    figure.figimage(canvas, 0, 0, origin="upper")
    for x, y, text, options in texts:
        figure.text(x / width, 1 - y / height, text, fontsize=6.5, **options)
    return save_figure(figure, path, dpi=100, bbox_inches=None)


def default_workers() -> int:
    """Worker processes for the distortions: the CPUs this process may use, at most 4."""
    from asna.data.workers import available_cpus

    return max(1, min(4, available_cpus()))


def expected_pairs(references: Sequence[Reference], type_ids: Sequence[int]) -> int:
    """Number of pairs a set of references yields (grey ones skip colour-only types)."""
    return sum(len(type_ids_for(r, type_ids)) * len(LEVELS) for r in references)


__all__ = ["create_synthetic", "save_grid", "summary_lines", "prepare_references", "split_of", "built_options",
           "file_photographs", "generator_options", "make_variation", "distorted_name", "expected_pairs",
           "default_workers", "SOURCE", "SPLITS", "FILES", "VAL_PHOTOGRAPHS", "TEST_PHOTOGRAPHS"]
