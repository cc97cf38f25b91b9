"""The one HDF5 layout every prepared set uses, and a streaming writer for it.

Datasets of a prepared file (N pairs of S x S images):

* ``x``          (N, 2, S, S, 3) uint8 RGB; index 0 the reference, 1 the distorted image
* ``y``          (N,) float32 standardised target, ``(mos - mean) / std`` of its source
* ``mos``        (N,) float32 raw score on the dataset's own scale
* ``dist_name``  (N,) UTF-8 strings: the distorted image's file name
* ``ref_id``     (N,) UTF-8 strings: the reference's id; splits never share one
* ``source``     (N,) UTF-8 strings from ``SOURCES``
* ``dist_type``  (N,) UTF-8 strings: the pair's distortion type id (``"10"``), empty
  when the set has none (PieAPP); from layout version 2 on

Numeric datasets (``x``, ``y``, ``mos``) carry HDF5's Fletcher-32 checksum per
chunk (files written before it was added have none and are read as before);
:func:`read_rows` turns a chunk that fails it into one line naming the file.

File attributes: ``standardization`` (JSON object ``{source: [mean, std]}``),
``image_size``, ``split_seed``, ``split`` (``train`` / ``val``), ``layout_version``.

Version 1 files (no ``dist_type``) are still read: :func:`read_dist_types` takes
the type from the distorted image's name there (``A0001_10_03.bmp`` -> ``10``).

The writer streams: pairs are appended to chunked, resizable datasets, so memory
does not grow with the number of pairs. It writes under a hidden temporary name
and renames only when the file is complete, so an interrupted run never leaves a
file that looks finished and never touches a file that was already there.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # not on Windows: no lock, as before
    fcntl = None  # type: ignore[assignment]

import h5py
import numpy as np

from asna.core.errors import UserError
from asna.core.paths import write_target

LAYOUT_VERSION = 2  # 2: the per-pair ``dist_type``
SOURCES = ("tid2008", "tid2013", "pieapp", "pipal", "synthetic")
UNTYPED_SOURCES = ("pieapp",)  # sets whose pairs have no distortion type
REFERENCE, DISTORTED = 0, 1
STRING_DTYPE = h5py.string_dtype(encoding="utf-8")
REQUIRED_DATASETS = ("x", "y", "mos", "dist_name", "ref_id", "source")  # what every version holds
DIST_TYPE = "dist_type"
TYPED_NAME = re.compile(r"^.+_(?P<type>\d+)_\d+\.[A-Za-z0-9]+$")


def temporary_path(path: Path) -> Path:
    """The hidden name a file is written under before it is complete."""
    return path.with_name(f".{path.name}.partial")


class PairWriter:
    """Append pairs to a new prepared HDF5 file; rename it into place on success.

    Use as a context manager. ``standardization`` maps each source to
    ``(mean, std)``; ``y`` is computed from it, so the two can never disagree.
    """

    def __init__(self, path: str | os.PathLike, image_size: int,
                 standardization: dict[str, tuple[float, float]], split: str,
                 split_seed: int, compression: str | None = None,
                 buffer_pairs: int = 64, extra_attributes: dict[str, Any] | None = None):
        self.path = Path(path)
        self.image_size = int(image_size)
        self.standardization = {k: [float(v[0]), float(v[1])] for k, v in standardization.items()}
        for source in self.standardization:
            if source not in SOURCES:
                raise ValueError(f"unknown source {source!r}")
        self.split = split
        self.split_seed = int(split_seed)
        self.compression = compression
        self.buffer_pairs = buffer_pairs
        self.extra_attributes = extra_attributes or {}
        self.count = 0
        self._file: h5py.File | None = None
        self._buffer: list[tuple[np.ndarray, np.ndarray, float, str, str, str, str]] = []

    def __enter__(self) -> "PairWriter":
        self.path = write_target(self.path)  # a link is written through; a FIFO or device is refused
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = temporary_path(self.path)
        self._lock = claim(self.path)
        self._janitor = Janitor([self._temporary, path_of(self._lock)])
        try:
            self._file = h5py.File(self._temporary, "w")
        except OSError as error:
            release(self._lock)
            self._janitor.dismiss()
            raise write_error(self.path, error) from None
        size = self.image_size
        # the datasets stay open: HDF5 writes cached chunks when a dataset is released,
        # and a failed write there (full disk) is only printed, never raised
        # numbers carry HDF5's Fletcher-32 checksum per chunk, so damaged bytes fail on read
        # (HDF5 filters cannot apply to variable-length strings: the names go without)
        self._datasets = {"x": self._file.create_dataset(
            "x", shape=(0, 2, size, size, 3), maxshape=(None, 2, size, size, 3), dtype=np.uint8,
            chunks=(1, 2, size, size, 3), compression=self.compression, fletcher32=True)}
        for name, dtype in (("y", np.float32), ("mos", np.float32), ("dist_name", STRING_DTYPE),
                            ("ref_id", STRING_DTYPE), ("source", STRING_DTYPE), (DIST_TYPE, STRING_DTYPE)):
            self._datasets[name] = self._file.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                                             chunks=(4096,), fletcher32=dtype != STRING_DTYPE)
        return self

    def append(self, reference: np.ndarray, distorted: np.ndarray, mos: float,
               dist_name: str, ref_id: str, source: str, dist_type: str | None = None) -> None:
        """Queue one pair (uint8 RGB S x S x 3 each); written in small blocks.

        ``dist_type`` is the set's own id of the pair's distortion type (KADID's
        ``"10"`` for JPEG), ``""`` when the set has none; None takes it from a
        ``<ref>_<type>_<level>.<ext>`` name (none for a source without types).
        """
        expected = (self.image_size, self.image_size, 3)
        for image in (reference, distorted):
            if image.shape != expected or image.dtype != np.uint8:
                raise ValueError(f"{dist_name}: expected a uint8 image of shape {expected}, "
                                 f"got {image.dtype} {image.shape}")
        if source not in self.standardization:
            raise ValueError(f"{dist_name}: source {source!r} has no standardisation")
        if dist_type is None:
            dist_type = "" if source in UNTYPED_SOURCES else type_from_name(dist_name)
        self._buffer.append((reference, distorted, float(mos), dist_name, ref_id, source, str(dist_type)))
        if len(self._buffer) >= self.buffer_pairs:
            self._flush()

    def _flush(self) -> None:
        try:
            self._write_buffer()
        except OSError as error:  # a full disk or a size limit: one line, and no partial file is kept
            raise write_error(self.path, error) from None

    def _write_buffer(self) -> None:
        if not self._buffer:
            return
        assert self._file is not None
        start, n = self.count, len(self._buffer)
        for dataset in self._datasets.values():
            dataset.resize(start + n, axis=0)
        pairs = np.stack([np.stack([r, d]) for r, d, *_ in self._buffer])
        self._datasets["x"][start:start + n] = pairs
        mos = np.array([b[2] for b in self._buffer], dtype=np.float32)
        sources = [b[5] for b in self._buffer]
        mean = np.array([self.standardization[s][0] for s in sources], dtype=np.float64)
        std = np.array([self.standardization[s][1] for s in sources], dtype=np.float64)
        self._datasets["mos"][start:start + n] = mos
        self._datasets["y"][start:start + n] = ((mos.astype(np.float64) - mean) / std).astype(np.float32)
        self._datasets["dist_name"][start:start + n] = [b[3] for b in self._buffer]
        self._datasets["ref_id"][start:start + n] = [b[4] for b in self._buffer]
        self._datasets["source"][start:start + n] = sources
        self._datasets[DIST_TYPE][start:start + n] = [b[6] for b in self._buffer]
        self._file.flush()  # raises here, where it can be handled, when the disk is full
        self.count += n
        self._buffer.clear()

    def __exit__(self, exc_type, exc, traceback) -> None:
        assert self._file is not None
        failure: Exception | None = None
        if exc_type is None:
            try:
                self._flush()
                attributes = self._file.attrs
                attributes["standardization"] = json.dumps(self.standardization)
                attributes["image_size"] = self.image_size
                attributes["split"] = self.split
                attributes["split_seed"] = self.split_seed
                attributes["layout_version"] = LAYOUT_VERSION
                for key, value in self.extra_attributes.items():
                    attributes[key] = value
                self._file.flush()
            except (OSError, UserError) as error:
                failure = error
        try:
            if exc_type is None and failure is None:
                self._datasets.clear()
                self._file.close()
            else:
                abandon(self._file, self._datasets)
        except OSError as error:
            abandon(self._file, self._datasets)
            failure = error
        finally:
            self._file = None
            if exc_type is None and failure is None:
                os.replace(self._temporary, self.path)
            else:
                self._temporary.unlink(missing_ok=True)
            release(self._lock)
            self._janitor.dismiss()
        if isinstance(failure, OSError):
            raise write_error(self.path, failure) from None
        if failure is not None:
            raise failure


def write_error(path: Path, error: OSError) -> UserError:
    """One line for a file that could not be written (full disk, size limit, no permission)."""
    reason = os.strerror(error.errno) if error.errno else str(error).splitlines()[0]
    return UserError(f"{path}: cannot write the file ({reason}); nothing was kept")


def abandon(handle: h5py.File, datasets: dict[str, h5py.Dataset]) -> None:
    """Close a file whose writes failed, keeping nothing of it.

    Its descriptor is pointed at /dev/null first: HDF5 flushes once more when
    closing, and a second failed flush left the file open and crashed the
    interpreter at exit.
    """
    try:
        descriptor = handle.id.get_vfd_handle()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, descriptor)
        os.close(null)
    except (OSError, ValueError, TypeError):
        pass
    datasets.clear()
    try:
        handle.close()
    except (OSError, RuntimeError):
        pass


def claim(path: Path) -> IO[str] | None:
    """Hold the hidden lock file of ``path``; refuse, in one line, a second run writing it."""
    if fcntl is None:
        return None
    handle = open(path.with_name(f".{path.name}.lock"), "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UserError(f"{path}: another run is writing this file now; wait for it to finish "
                        f"or choose another output folder") from None
    return handle


def path_of(lock: IO[str] | None) -> Path | None:
    return None if lock is None else Path(lock.name)


class Janitor:
    """A small process that removes files if this process dies before it could (``kill -9``).

    It waits for the end of a pipe only this process holds, which the kernel
    closes however the process ends; ``dismiss`` ends it once the files are dealt with.
    """

    SCRIPT = ("import os, signal, sys\n"
              "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "sys.stdin.read()\n"
              "for path in sys.argv[1:]:\n"
              "    try:\n"
              "        os.remove(path)\n"
              "    except OSError:\n"
              "        pass\n")

    def __init__(self, paths: list[Path | None]):
        import subprocess
        import sys

        self.process = subprocess.Popen([sys.executable, "-S", "-c", self.SCRIPT,
                                         *(str(path) for path in paths if path is not None)],
                                        stdin=subprocess.PIPE, close_fds=True)

    def dismiss(self) -> None:
        """The files are renamed or removed: let the process end (it finds nothing to remove)."""
        self.process.stdin.close()
        self.process.wait()


def release(lock: IO[str] | None) -> None:
    """Drop the lock taken by ``claim`` and its file."""
    if lock is not None:
        Path(lock.name).unlink(missing_ok=True)
        lock.close()


def open_pairs(path: str | os.PathLike) -> h5py.File:
    """Open a prepared file read-only, checking that it has the project's layout."""
    path = str(path)
    if not os.path.isfile(path):
        raise UserError(f"{path}: file not found")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise UserError(f"{path}: not a readable HDF5 file ({error})") from None
    missing = [name for name in REQUIRED_DATASETS if name not in handle]
    if missing or "standardization" not in handle.attrs:
        handle.close()
        what = ", ".join(missing) if missing else "the standardization attribute"
        raise UserError(f"{path}: not a prepared pair file (missing {what})")
    return handle


def read_rows(dataset: h5py.Dataset, rows: Any = slice(None)) -> np.ndarray:
    """``dataset[rows]``, or one ``UserError`` naming the file when its stored bytes are damaged.

    Files written since checksums were added fail here when a chunk's bytes
    no longer match its Fletcher-32 sum; older files without sums are read as before.
    """
    try:
        return dataset[rows]
    except OSError as error:
        reason = "its stored bytes fail their checksum" if dataset.fletcher32 else str(error).splitlines()[0]
        raise UserError(f"{dataset.file.filename}: dataset {dataset.name.lstrip('/')} cannot be read ({reason}); "
                        f"the file is damaged, prepare it again") from None


def read_standardization(handle: h5py.File) -> dict[str, tuple[float, float]]:
    """The ``{source: (mean, std)}`` map stored in a prepared file."""
    raw = json.loads(handle.attrs["standardization"])
    return {source: (float(v[0]), float(v[1])) for source, v in raw.items()}


def decode_strings(values: np.ndarray) -> list[str]:
    """h5py returns stored strings as bytes; give them back as str."""
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def type_from_name(name: str) -> str:
    """The type id of ``<ref>_<type>_<level>.<ext>`` (``A0001_10_03.bmp`` -> ``"10"``), or ``""``.

    Leading zeros are dropped (``i01_01_1.bmp`` -> ``"1"``); a copy's suffix
    (``A0001_10_03.bmp#L0.734``, intensity copies) is ignored.
    """
    match = TYPED_NAME.match(name.split("#", 1)[0])
    return str(int(match["type"])) if match else ""


def read_dist_types(handle: h5py.File) -> list[str]:
    """Every pair's distortion type id (``""`` for none): stored from layout version 2, else from the name.

    Version 1 files hold no type; their names follow ``<ref>_<type>_<level>``
    for the built-in set, TID and PIPAL, so the name gives it, except for
    sources that have no types (PieAPP).
    """
    if DIST_TYPE in handle:
        return decode_strings(handle[DIST_TYPE][:])
    names, sources = decode_strings(handle["dist_name"][:]), decode_strings(handle["source"][:])
    return ["" if source in UNTYPED_SOURCES else type_from_name(name) for name, source in zip(names, sources)]
