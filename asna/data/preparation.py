"""What the real-dataset readers share: finding files as they come, the split, streaming, the summary.

A reader (``tid``, ``pieapp``, ``pipal``) only turns its label files into a list
of :class:`PairSpec` (paths and scores, no pixels) and says how its images are
fitted to the canvas. Everything else is here, once:

* file look-up that ignores case (TID ships ``I01.BMP`` beside ``i25.bmp``);
* the ``--skip-bad`` bookkeeping (:class:`Problems`);
* the seeded split grouped by reference (:func:`split_groups`);
* streaming every pair through :class:`~asna.data.layout.PairWriter`
  (:func:`write_prepared`), so memory does not grow with the dataset;
* the summary printed at the end;
* a preparation script's whole run (:func:`run`).

Problems that can be found from names alone are found before anything is
written; only decoding problems are met while streaming, and then the
writers' temporary files are removed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np
from tqdm import tqdm

from asna.core.errors import UserError
from asna.core.paths import atomic_write, refuse_overlaps
from asna.data.images import LIGHTNESS_RANGE, FittedImageCache, describe_size, scale_lightness
from asna.data.layout import SOURCES, PairWriter

Fit = Callable[[np.ndarray, Path], np.ndarray]
"""Turns a decoded RGB image into the S x S canvas, or raises ``UserError``."""

ExtraCopies = Callable[["PairSpec", np.ndarray, np.ndarray], Iterable[tuple[np.ndarray, np.ndarray, str]]]
"""Makes additional (reference, distorted, dist_name) pairs from a written pair."""

SPLITS = ("train", "val")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PairSpec:
    """One pair to write, as names and a score only; pixels are read while streaming.

    ``group`` is the split key when it is not ``ref_id``: pairs with the same
    group always land in the same file (TID2008 and TID2013 share their 25
    references, so both use ``tid/I01``). ``dist_type`` is the set's id of the
    distortion type (``""`` where it has none), for per-type reports.
    """

    source: str
    ref_id: str  # starts with ``source/``
    reference: Path
    distorted: Path
    dist_name: str
    mos: float
    group: str | None = None
    dist_type: str = ""

    @property
    def split_group(self) -> str:
        """The key of the split: ``group``, or the reference's id when no group is set."""
        return self.group or self.ref_id


@dataclass
class SourcePairs:
    """A reader's result: its pairs, how its images are fitted, and lines for the summary."""

    source: str
    pairs: list[PairSpec]
    fit: Fit
    notes: list[str] = field(default_factory=list)


class LayoutError(UserError):
    """A problem of the whole dataset copy (not of one pair): never skipped by ``--skip-bad``."""


class Problems:
    """Bad pairs: an error by default, or skipped and listed with ``--skip-bad``."""

    def __init__(self, skip_bad: bool):
        self.skip_bad = skip_bad
        self.skipped: list[tuple[str, str]] = []

    def report(self, pair: str, message: str) -> None:
        """``message`` names the file and the problem; raise it unless bad pairs are skipped."""
        if not self.skip_bad:
            raise UserError(message)
        self.skipped.append((pair, message))

    def attempt(self, pair: str, build: Callable[..., T], *args) -> T | None:
        """``build(*args)``, or ``None`` after reporting the ``UserError`` it raised."""
        try:
            return build(*args)
        except LayoutError:
            raise
        except UserError as error:
            self.report(pair, str(error))
            return None

    def write_list(self, path: Path) -> None:
        """Write ``pair<TAB>problem`` lines beside the output (replacing an old list)."""
        text = f"# {len(self.skipped)} pairs skipped by --skip-bad: pair<TAB>problem\n" + "".join(
            f"{pair}\t{message}\n" for pair, message in self.skipped)
        atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


# ----------------------------------------------------------------------------- files


def require_folder(path: str | os.PathLike, what: str) -> Path:
    """The folder the user named, or a one-line error saying which option is wrong."""
    folder = Path(path)
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "folder not found"
        raise UserError(f"{folder}: {problem} ({what})")
    return folder


def find_child(folder: Path, name: str, is_dir: bool = True) -> Path | None:
    """``folder/name`` matched case-insensitively, or ``None``."""
    exact = folder / name
    if (exact.is_dir() if is_dir else exact.is_file()):
        return exact
    wanted = name.lower()
    matches = sorted(entry for entry in folder.iterdir()
                     if entry.name.lower() == wanted and (entry.is_dir() if is_dir else entry.is_file()))
    return matches[0] if matches else None


def require_child(folder: Path, name: str, is_dir: bool = True, hint: str = "") -> Path:
    """``find_child`` that raises a one-line error naming what is missing."""
    child = find_child(folder, name, is_dir)
    if child is None:
        kind = "folder" if is_dir else "file"
        note = f" ({hint})" if hint else ""
        raise UserError(f"{folder}: no {name} {kind}{note}")
    return child


class FileIndex:
    """Files of a folder (optionally of all folders below it) by lower-case name.

    One directory listing replaces thousands of existence checks, and names are
    matched the way Windows-made archives need: ignoring case.
    """

    def __init__(self, folder: Path, recursive: bool = False, exclude: Iterable[Path] = ()):
        self.folder = folder
        self.recursive = recursive
        self._by_name: dict[str, list[Path]] = defaultdict(list)
        self._by_stem: dict[str, list[Path]] = defaultdict(list)
        excluded = {os.path.normcase(os.path.abspath(p)) for p in exclude}
        if folder.is_dir():
            for path in self._walk(folder, recursive, excluded):
                self._by_name[path.name.lower()].append(path)
                self._by_stem[path.stem.lower()].append(path)

    @staticmethod
    def _walk(folder: Path, recursive: bool, excluded: set[str]) -> Iterator[Path]:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs
                             if os.path.normcase(os.path.abspath(os.path.join(root, d))) not in excluded)
            for name in sorted(files):
                if not name.startswith("."):
                    yield Path(root) / name
            if not recursive:
                break

    def __len__(self) -> int:
        return sum(len(paths) for paths in self._by_name.values())

    def find(self, name: str) -> Path | None:
        """The file called ``name`` (any case); ``None`` if absent; an error if ambiguous."""
        return self._unique(self._by_name.get(name.lower(), []), name)

    def find_stem(self, stem: str) -> Path | None:
        """The file whose name without extension is ``stem`` (any case and extension)."""
        return self._unique(self._by_stem.get(stem.lower(), []), stem)

    def require(self, name: str, where: str, what: str | None = None, stem: bool = False) -> Path:
        """``find`` (``find_stem`` with ``stem``), or a ``UserError`` at ``where`` naming ``what``
        (default: ``name``) and the folder it was looked for in."""
        path = self.find_stem(name) if stem else self.find(name)
        if path is None:
            folder = f"any folder below {self.folder}" if self.recursive else str(self.folder)
            raise UserError(f"{where}: {what or name} not found in {folder}")
        return path

    @staticmethod
    def _unique(paths: list[Path], name: str) -> Path | None:
        if len(paths) > 1:
            raise LayoutError(f"{paths[0]}: {name} occurs {len(paths)} times "
                            f"(also {paths[1]}); keep one copy of the dataset below the folder")
        return paths[0] if paths else None


def read_label_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-empty lines of a text label file with their 1-based numbers, whitespace stripped."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text label file (it is not UTF-8/ASCII)") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read the file ({error.strerror or error})") from None
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line.strip()


class LabelBook:
    """Scores already read, by image name, to refuse an image labelled twice with two scores.

    Which of two different scores is right cannot be known, so a conflict is
    refused, naming both lines. A repeated line with the same score is kept
    once: it changes nothing (a label file pasted twice, say).
    """

    def __init__(self) -> None:
        self.seen: dict[str, tuple[float, str]] = {}

    def add(self, name: str, score: float, where: str, line: str | None = None) -> bool:
        """Whether ``name`` is new; False for a repeat of the same score, ``UserError`` for another score.

        ``where``: the line, as the error starts with it; ``line``: how a later
        error names this line (default ``where``; ``line 3`` within one file).
        """
        key = name.lower()
        if key not in self.seen:
            self.seen[key] = (score, line or where)
            return True
        first_score, first_where = self.seen[key]
        if score != first_score:
            raise UserError(f"{where}: {name} is labelled {score:g}, but {first_where} labels it "
                            f"{first_score:g}; keep one of the two lines")
        return False


def parse_score(text: str, where: str) -> float:
    """A finite float from a label field, or ``UserError`` naming the file and line."""
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{where}: score {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UserError(f"{where}: score {text!r} is not a finite number")
    return value


# ----------------------------------------------------------------------------- split


def validation_count(n_groups: int, val_ratio: float) -> int:
    """How many groups go to validation: the rounded share, but both splits non-empty when possible."""
    if val_ratio <= 0 or n_groups < 2:
        return 0
    return min(max(int(n_groups * val_ratio + 0.5), 1), n_groups - 1)


def split_groups(groups: Iterable[str], val_ratio: float, seed: int) -> frozenset[str]:
    """The groups (references) that go to validation; deterministic for a seed.

    Groups are ``family/name``; each family (``tid``, ``pieapp``, ``pipal``) is
    split on its own with a generator seeded by the seed and the family's name,
    so every dataset has its share in validation and adding a dataset does not
    move the others' references between files.
    """
    by_family: dict[str, list[str]] = defaultdict(list)
    for group in sorted(set(groups)):
        by_family[group.split("/", 1)[0]].append(group)
    validation: set[str] = set()
    for family, members in sorted(by_family.items()):
        rng = np.random.default_rng([seed, zlib.crc32(family.encode("utf-8"))])
        order = rng.permutation(len(members))
        validation.update(members[i] for i in order[:validation_count(len(members), val_ratio)])
    return frozenset(validation)


# ----------------------------------------------------------------------------- statistics


class RunningStats:
    """Count, mean, standard deviation, min and max without keeping the values (Welford)."""

    def __init__(self) -> None:
        self.count, self.mean, self._m2 = 0, 0.0, 0.0
        self.minimum, self.maximum = math.inf, -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self._m2 += delta * (value - self.mean)
        self.minimum, self.maximum = min(self.minimum, value), max(self.maximum, value)

    @property
    def std(self) -> float:
        return math.sqrt(self._m2 / self.count) if self.count else math.nan


# ----------------------------------------------------------------------------- arguments


def add_output_arguments(parser: argparse.ArgumentParser, default_size: int = 288) -> None:
    """The options both preparation scripts share."""
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for the prepared HDF5 files (created if needed)")
    parser.add_argument("--image-size", type=int, default=default_size, metavar="S",
                        help="side of the square images written (default: %(default)s, the networks' input)")
    parser.add_argument("--val-ratio", type=float, default=0.2, metavar="R",
                        help="share of reference images whose pairs go to the validation file "
                             "(default: %(default)s; 0 = no validation pairs)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the train/validation split (default: %(default)s)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip pairs with a missing, unreadable or wrongly sized image or a bad "
                             "score instead of stopping; they are counted and listed beside the output")
    parser.add_argument("--standardization", action="append", default=[], metavar="SOURCE=MEAN,STD",
                        help="override the mean and std used for the standardised target y = "
                             "(mos - mean) / std of a source (repeatable); the defaults are the "
                             "original project's constants")
    parser.add_argument("--compression", choices=("none", "lzf", "gzip"), default="none",
                        help="HDF5 compression of the image pairs (default: the layout's default)")


def check_output_arguments(args: argparse.Namespace) -> None:
    """Refuse impossible option values before any file is read or created."""
    if args.image_size < 1:
        raise UserError(f"--image-size: must be a positive number of pixels, got {args.image_size}")
    if not 0.0 <= args.val_ratio < 1.0:
        raise UserError(f"--val-ratio: must be at least 0 and below 1, got {args.val_ratio}")
    if args.seed < 0:
        raise UserError(f"--seed: must be 0 or more, got {args.seed}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder (--out)")


def standardization_table(defaults: dict[str, tuple[float, float]],
                          overrides: list[str]) -> dict[str, tuple[float, float]]:
    """The defaults with ``SOURCE=MEAN,STD`` overrides applied; only known sources and std > 0."""
    table = dict(defaults)
    for text in overrides:
        source, _, numbers = text.partition("=")
        source = source.strip()
        if source not in table:
            known = ", ".join(sorted(table))
            raise UserError(f"--standardization {text}: source must be one of {known}")
        try:
            mean, std = (float(v) for v in numbers.split(","))
        except ValueError:
            raise UserError(f"--standardization {text}: expected SOURCE=MEAN,STD") from None
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise UserError(f"--standardization {text}: mean must be finite and std positive")
        table[source] = (mean, std)
    return table


# ----------------------------------------------------------------------------- augmentation


def lightness_factor(seed: int, dist_name: str, copy: int) -> float:
    """The Lab-L factor of one copy, drawn from U(0.3, 1.5).

    Seeded by the seed, the pair's name and the copy's number rather than by
    position, so skipping a bad pair does not change the other pairs' factors.
    """
    rng = np.random.default_rng([seed, zlib.crc32(dist_name.encode("utf-8")), copy])
    return float(rng.uniform(*LIGHTNESS_RANGE))


def intensity_copies(copies: int, seed: int) -> ExtraCopies | None:
    """Extra pairs with the lightness of both images scaled by the same random factor."""
    if copies <= 0:
        return None

    def make(pair: PairSpec, reference: np.ndarray,
             distorted: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, str]]:
        for copy in range(copies):
            factor = lightness_factor(seed, pair.dist_name, copy)
            yield (scale_lightness(reference, factor), scale_lightness(distorted, factor),
                   f"{pair.dist_name}#L{factor:.3f}")

    return make


# ----------------------------------------------------------------------------- writing


@dataclass
class Prepared:
    """What a run wrote, for the summary and for tests."""

    paths: dict[str, Path]
    counts: dict[str, int]
    stats: dict[tuple[str, str], RunningStats]  # mos of the pairs written, by split and source
    standardization: dict[str, tuple[float, float]]
    skipped: int
    skip_list: Path | None


def write_prepared(sources: list[SourcePairs], out_dir: Path, file_names: dict[str, str],
                   image_size: int, standardization: dict[str, tuple[float, float]],
                   val_ratio: float, seed: int, problems: Problems, skip_list_name: str,
                   extra_copies: ExtraCopies | None = None, compression: str = "none") -> Prepared:
    """Split by reference, then stream every pair into the train and validation files.

    Pairs are written ordered by split, reference and name, so the reference
    of consecutive pairs is the same and decoded once. Nothing is created when
    there is nothing to write; when a pair fails and bad pairs are not
    skipped, both temporary files are removed and existing files stay.
    """
    pairs = [pair for source in sources for pair in source.pairs]
    if not pairs:
        raise UserError(f"{out_dir}: no pairs to write (every label was skipped or none was found)")
    fits = {source.source: source.fit for source in sources}
    validation = split_groups((pair.split_group for pair in pairs), val_ratio, seed)
    pairs.sort(key=lambda p: (p.split_group in validation, p.ref_id, p.dist_name))
    paths = {split: out_dir / file_names[split] for split in SPLITS}
    used = {pair.source for pair in pairs}
    table = {source: standardization[source] for source in SOURCES if source in used}
    stats: dict[tuple[str, str], RunningStats] = {}
    writer_compression = None if compression == "none" else compression
    with _output_folder(out_dir):
        with PairWriter(paths["train"], image_size, table, split="train", split_seed=seed,
                        compression=writer_compression) as train, \
                PairWriter(paths["val"], image_size, table, split="val", split_seed=seed,
                           compression=writer_compression) as val:
            written = _stream(pairs, {"train": train, "val": val}, validation, fits, problems,
                              extra_copies, stats, FittedImageCache())
            if written["train"] == 0:
                first = problems.skipped[0][1] if problems.skipped else "none"
                raise UserError(f"{out_dir}: no training pairs left to write "
                                f"({len(problems.skipped)} skipped; the first: {first})")
    skip_list: Path | None = out_dir / skip_list_name
    if problems.skip_bad:
        problems.write_list(skip_list)
    else:  # a list from an earlier --skip-bad run would describe files that are now replaced
        skip_list.unlink(missing_ok=True)
        skip_list = None
    return Prepared(paths, written, stats, table, len(problems.skipped), skip_list)


def _stream(pairs: list[PairSpec], writers: dict[str, PairWriter], validation: frozenset[str],
            fits: dict[str, Fit], problems: Problems, extra_copies: ExtraCopies | None,
            stats: dict[tuple[str, str], RunningStats], cache: FittedImageCache) -> dict[str, int]:
    """Read, fit and append every pair (and its extra copies); returns the pairs written per split."""
    written = {split: 0 for split in SPLITS}
    for pair in tqdm(pairs, desc="pairs", unit="pair", disable=None, dynamic_ncols=True):
        images = _load_pair(pair, fits[pair.source], cache, problems)
        if images is None:
            continue
        split = "val" if pair.split_group in validation else "train"
        copies = extra_copies(pair, *images) if extra_copies else ()
        for reference, distorted, name in [(*images, pair.dist_name), *copies]:
            writers[split].append(reference, distorted, pair.mos, name, pair.ref_id, pair.source, pair.dist_type)
            stats.setdefault((split, pair.source), RunningStats()).add(pair.mos)
            written[split] += 1
    return written


@contextlib.contextmanager
def _output_folder(out_dir: Path) -> Iterator[None]:
    """On failure, remove the output folder if this run created it and left it empty;
    a failure to write (full disk, no permission) becomes one line naming the folder."""
    created = not out_dir.exists()
    try:
        yield
    except BaseException as error:
        if created:
            try:
                out_dir.rmdir()
            except OSError:
                pass
        if isinstance(error, OSError):
            raise UserError(f"{out_dir}: cannot write the prepared files ({error})") from None
        raise


def _load_pair(pair: PairSpec, fit: Fit, cache: FittedImageCache,
               problems: Problems) -> tuple[np.ndarray, np.ndarray] | None:
    """Both fitted images, or ``None`` after reporting why the pair cannot be written."""
    try:
        reference, reference_shape = cache.get(pair.reference, fit, pair.source)
        distorted, distorted_shape = cache.get(pair.distorted, fit, pair.source)
    except UserError as error:
        problems.report(pair.dist_name, str(error))
        return None
    if reference_shape != distorted_shape:
        problems.report(pair.dist_name,
                        f"{pair.distorted}: image is {describe_size(distorted_shape)} but its "
                        f"reference {pair.reference.name} is {describe_size(reference_shape)}")
        return None
    return reference, distorted


def print_summary(prepared: Prepared, sources: list[SourcePairs], file=None) -> None:
    """Counts per split and source, score statistics, and what was skipped.

    The statistics of y = (mos - mean) / std follow from those of mos, since
    each row is one source with one mean and std.
    """
    out = file or sys.stdout
    for split in SPLITS:
        print(f"wrote {prepared.paths[split]}: {prepared.counts[split]} pairs", file=out)
    header = f"{'split':<6} {'source':<9} {'pairs':>7} {'mos mean':>10} {'mos std':>9} " \
             f"{'mos min':>10} {'mos max':>10} {'y mean':>7} {'y std':>6}"
    print(header, file=out)
    for (split, source), mos in sorted(prepared.stats.items(),
                                       key=lambda item: (SPLITS.index(item[0][0]), item[0][1])):
        mean, std = prepared.standardization[source]
        print(f"{split:<6} {source:<9} {mos.count:>7} {mos.mean:>10.4f} {mos.std:>9.4f} "
              f"{mos.minimum:>10.4f} {mos.maximum:>10.4f} {(mos.mean - mean) / std:>7.3f} "
              f"{mos.std / std:>6.3f}", file=out)
    for source in sources:
        for note in source.notes:
            print(f"{source.source}: {note}", file=out)
    if prepared.skip_list is not None:
        print(f"skipped {prepared.skipped} bad pairs; list in {prepared.skip_list}", file=out)


# ----------------------------------------------------------------------------- a script's run


Collect = Callable[[argparse.Namespace, Problems], list[SourcePairs]]
"""A script's readers: the pairs of every dataset its arguments name."""


def run(args: argparse.Namespace, defaults: dict[str, tuple[float, float]], collect: Collect,
        prefix: str, check: Callable[[argparse.Namespace], None] | None = None,
        extra_copies: ExtraCopies | None = None) -> int:
    """What a preparation script does with its parsed arguments; writes ``OUT/{prefix}_train.h5``,
    ``OUT/{prefix}_val.h5`` and, with ``--skip-bad``, ``OUT/{prefix}_skipped_pairs.txt``.

    ``check`` refuses the script's own impossible options, after the shared ones
    and before any file is read; ``defaults`` is the standardisation of its sources.
    """
    check_output_arguments(args)
    if check is not None:
        check(args)
    standardization = standardization_table(defaults, args.standardization)
    problems = Problems(args.skip_bad)
    sources = collect(args, problems)
    file_names = {split: f"{prefix}_{split}.h5" for split in SPLITS}
    written = (*file_names.values(), f"{prefix}_skipped_pairs.txt")
    refuse_overlaps([("--out", Path(args.out) / name) for name in written],
                    [(f"--{source.source}", path) for source in sources for pair in source.pairs
                     for path in (pair.reference, pair.distorted)])
    prepared = write_prepared(
        sources, Path(args.out), file_names, args.image_size,
        standardization, args.val_ratio, args.seed, problems, f"{prefix}_skipped_pairs.txt",
        extra_copies=extra_copies, compression=args.compression)
    print_summary(prepared, sources)
    return 0
