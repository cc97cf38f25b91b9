"""The tf.data input pipeline over a prepared HDF5 pair file.

``make_dataset`` yields ``((reference, distorted), y)`` batches: uint8 images
(B, S, S, 3) and float32 standardised targets (B,).

Why it looks like this (measured on a 2-core machine; figures in docs/benchmarks.md):

* h5py is not thread-safe under TensorFlow's parallel ``map``, so the file is
  read by Python generators, each with its own file handle, reading
  contiguous blocks of ``read_block`` pairs: one h5py call per block, whose
  chunks (one pair each) lie next to each other in the file.
* Shuffling without loading the file: each epoch visits the blocks in a seeded
  random order, ``shuffle_buffer`` pairs (a window of blocks) at a time, and
  takes the pairs of a window in a random order. Memory stays at one window.
* Augmentation (rotations, flips, Lab lightness) is not done here but on the
  training device, in the train step (``asna.data.augment``): the pipeline
  only reads bytes, so it keeps up with an accelerator.
* Every random choice (the order) comes from NumPy generators seeded with
  ``(seed, shard, reader, epoch)``: the same seed gives the same batches.
* Sharding under ``tf.distribute``: blocks are dealt round-robin to the input
  pipelines (``input_context.input_pipeline_id`` of
  ``num_input_pipelines``), so shards are disjoint and cover the file.
* Nothing is loaded whole unless the caller gives ``in_memory_budget_bytes``
  at least as large as the shard's images.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import tensorflow as tf

from asna.data.layout import DISTORTED, REFERENCE, decode_strings, open_pairs, read_rows, read_standardization

Blocks = list[tuple[int, int]]
Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # references, distorted, y


# ---------------------------------------------------------------- file facts

@dataclass(frozen=True)
class PairFileInfo:
    """What a prepared file holds, read without its images."""

    path: str
    count: int
    image_size: int
    y: np.ndarray
    mos: np.ndarray
    sources: tuple[str, ...]
    standardization: dict[str, tuple[float, float]]
    compression: str | None
    image_bytes: int  # bytes of all images, uncompressed (N x 2 x S x S x 3)

    def __len__(self) -> int:
        return self.count


def file_info(path: str | os.PathLike) -> PairFileInfo:
    """Targets, sizes and storage of a prepared file (the images are not read)."""
    with open_pairs(path) as handle:
        x = handle["x"]
        count, size = int(x.shape[0]), int(x.shape[2])
        return PairFileInfo(path=str(path), count=count, image_size=size,
                            y=read_rows(handle["y"]).astype(np.float32),
                            mos=read_rows(handle["mos"]).astype(np.float32),
                            sources=tuple(sorted(set(decode_strings(handle["source"][:])))),
                            standardization=read_standardization(handle), compression=x.compression,
                            image_bytes=int(np.prod(x.shape)))


def read_targets(path: str | os.PathLike) -> np.ndarray:
    """The standardised targets ``y`` of a file, in file order (no images read)."""
    return file_info(path).y


# ---------------------------------------------------------------- which pairs, in which order

def make_blocks(count: int, block: int) -> Blocks:
    """Contiguous ``[start, stop)`` ranges of at most ``block`` pairs covering ``count``."""
    return [(start, min(start + block, count)) for start in range(0, count, block)]


def shard_blocks(blocks: Blocks, shards: int, index: int) -> Blocks:
    """Every ``shards``-th block starting at ``index``: disjoint shards covering the file."""
    return blocks[index::shards]


def epoch_windows(blocks: Blocks, window_blocks: int, rng: np.random.Generator) -> list[Blocks]:
    """The blocks in a seeded random order, grouped into shuffle windows (read in file order)."""
    order = [blocks[i] for i in rng.permutation(len(blocks))]
    return [sorted(order[i:i + window_blocks]) for i in range(0, len(order), window_blocks)]


# ---------------------------------------------------------------- reading

class PairSource:
    """Reads blocks of pairs, from the file or from a copy held in memory."""

    def __init__(self, path: str, blocks: Blocks, in_memory: bool, y: np.ndarray):
        self.path = path
        self.y = y  # all targets, already read by file_info; only images come from the file
        self.memory: np.ndarray | None = None
        self.offsets: dict[tuple[int, int], int] = {}
        if in_memory:
            self._load(blocks)

    def _load(self, blocks: Blocks) -> None:
        """Copy the images of ``blocks`` into RAM once."""
        with open_pairs(self.path) as handle:
            images, offset = [], 0
            for start, stop in blocks:
                images.append(read_rows(handle["x"], slice(start, stop)))
                self.offsets[(start, stop)] = offset
                offset += stop - start
        self.memory = np.concatenate(images)

    def open(self):
        """A file handle for one generator (None when the pairs are in memory)."""
        return None if self.memory is not None else open_pairs(self.path)

    def read(self, handle, blocks: Blocks) -> tuple[list[np.ndarray], np.ndarray]:
        """Images of ``blocks`` (one (n, 2, S, S, 3) array per block, not joined:
        joining would copy every pixel once more) and their targets."""
        images = []
        for start, stop in blocks:
            if self.memory is not None:
                offset = self.offsets[(start, stop)]
                images.append(self.memory[offset:offset + stop - start])
            else:
                images.append(read_rows(handle["x"], slice(start, stop)))
        return images, np.concatenate([self.y[start:stop] for start, stop in blocks])


@dataclass
class Window:
    """Pairs read together and the order to take them in."""

    blocks: list[np.ndarray]  # (n, 2, S, S, 3) per block read
    y: np.ndarray
    order: np.ndarray | None = None  # None: file order

    def __post_init__(self) -> None:
        sizes = [len(block) for block in self.blocks]
        self.block_of = np.repeat(np.arange(len(sizes)), sizes)
        self.row_of = np.concatenate([np.arange(size) for size in sizes])

    def pair(self, position: int) -> np.ndarray:
        """The (2, S, S, 3) pair at ``position`` of the window (a view)."""
        return self.blocks[self.block_of[position]][self.row_of[position]]


def ordered_windows(source: PairSource, blocks: Blocks) -> Iterator[Window]:
    """Evaluation: every pair of ``blocks`` in file order, a block at a time."""
    handle = source.open()
    try:
        for block in blocks:
            yield Window(*source.read(handle, [block]))
    finally:
        if handle is not None:
            handle.close()


def shuffled_windows(source: PairSource, blocks: Blocks, window_blocks: int, seed: int, stream: int,
                     epochs: Iterator[int], skip_pairs: int = 0) -> Iterator[Window]:
    """Training: per epoch, windows of random blocks, each taken in a random order.

    ``skip_pairs``: leave out the stream's first pairs (a resumed run goes on
    where it stopped); their order is drawn, their images not read.
    """
    handle = source.open()
    try:
        for epoch in epochs:
            rng = np.random.default_rng([seed, stream, epoch])
            for window in epoch_windows(blocks, window_blocks, rng):
                size = sum(stop - start for start, stop in window)
                order = rng.permutation(size)
                if skip_pairs >= size:
                    skip_pairs -= size
                    continue
                images, y = source.read(handle, window)
                yield Window(images, y, order[skip_pairs:])
                skip_pairs = 0
    finally:
        if handle is not None:
            handle.close()


def take(window: Window, positions: np.ndarray) -> Batch:
    """Copy the pairs at ``positions`` out of a window as (references, distorted, y)."""
    size = window.blocks[0].shape[2]
    references = np.empty((len(positions), size, size, 3), np.uint8)
    distorted = np.empty_like(references)
    for row, position in enumerate(positions):
        pair = window.pair(position)
        references[row] = pair[REFERENCE]
        distorted[row] = pair[DISTORTED]
    return references, distorted, window.y[positions]


def rebatch(windows: Iterator[Window], batch_size: int, keep_last: bool) -> Iterator[Batch]:
    """Batches of exactly ``batch_size`` pairs taken across windows (the last may be short if kept)."""
    pending: list[Batch] = []
    waiting = 0
    for window in windows:
        position, size = 0, len(window.y) if window.order is None else len(window.order)
        while position < size:
            count = min(batch_size - waiting, size - position)
            positions = (np.arange(position, position + count) if window.order is None
                         else window.order[position:position + count])
            pending.append(take(window, positions))
            waiting += count
            position += count
            if waiting == batch_size:
                yield _join(pending)
                pending, waiting = [], 0
    if keep_last and waiting:
        yield _join(pending)


def _join(parts: list[Batch]) -> Batch:
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


# ---------------------------------------------------------------- the dataset

def _batch_dataset(generator_factory, readers: int, size: int, first_reader: int = 0) -> tf.data.Dataset:
    """Batches from ``readers`` generators (own file handle each), interleaved in a fixed order
    starting with ``first_reader`` (a resumed run goes on with the reader whose turn it was)."""
    image = tf.TensorSpec((None, size, size, 3), tf.uint8)
    signature = (image, image, tf.TensorSpec((None,), tf.float32))

    def one_reader(reader: tf.Tensor) -> tf.data.Dataset:
        return tf.data.Dataset.from_generator(generator_factory, output_signature=signature, args=(reader,))

    if readers == 1:
        return one_reader(tf.constant(0, tf.int64))
    order = [(first_reader + step) % readers for step in range(readers)]
    return tf.data.Dataset.from_tensor_slices(tf.constant(order, tf.int64)).interleave(
        one_reader, cycle_length=readers, block_length=1, num_parallel_calls=readers, deterministic=True)


def make_dataset(path: str | os.PathLike, batch_size: int, *, training: bool, seed: int = 0,
                 shuffle_buffer: int = 256,
                 input_context: tf.distribute.InputContext | None = None, in_memory_budget_bytes: int = 0,
                 repeat: bool | None = None, read_block: int = 16, readers: int = 1,
                 skip_batches: int = 0, info: PairFileInfo | None = None) -> tf.data.Dataset:
    """A tf.data pipeline of ``((reference, distorted), y)`` batches over a prepared file.

    training=True: shuffled (seeded, new order each epoch), full batches only
    (drop_remainder), repeating forever unless ``repeat=False`` (then one
    epoch per iteration, each iteration the next epoch's order). The pairs are
    as stored: training augments them on the device (``asna.data.augment``).
    training=False (validation, evaluation): every pair once, in file order,
    the last batch may be short; ``repeat=True`` cycles it.

    ``batch_size`` is this pipeline's batch: under tf.distribute pass the
    per-replica size. ``input_context`` shards by blocks of ``read_block``
    pairs. ``in_memory_budget_bytes``: read this shard's images into RAM once
    when they fit (0 = always stream from disk). ``readers``: parallel reading
    generators for training (each with its own file handle). ``skip_batches``
    (repeating training only): start after that many batches, exactly where an
    uninterrupted run would be, without reading the skipped images.
    ``info``: the
    file's ``file_info``, when the caller has it (the file is then not read again).
    """
    if batch_size < 1 or read_block < 1 or readers < 1 or shuffle_buffer < 1:
        raise ValueError("batch_size, read_block, readers and shuffle_buffer must be positive")
    info = info or file_info(path)  # training passes what it has already read
    blocks = make_blocks(info.count, read_block)
    shard = 0
    if input_context is not None:
        shard = input_context.input_pipeline_id
        blocks = shard_blocks(blocks, input_context.num_input_pipelines, shard)
    shard_bytes = sum(stop - start for start, stop in blocks) * (info.image_bytes // max(info.count, 1))
    source = PairSource(str(path), blocks, in_memory=0 < shard_bytes <= in_memory_budget_bytes, y=info.y)
    repeat = training if repeat is None else repeat
    readers = max(1, min(readers, len(blocks))) if training else 1
    reader_blocks = [blocks[r::readers] for r in range(readers)]
    window_blocks = max(1, math.ceil(shuffle_buffer / read_block))
    invocations = [itertools.count() for _ in reader_blocks]
    if skip_batches and not (training and repeat):
        raise ValueError("skip_batches needs a repeating training pipeline")

    def resume_point(reader: int) -> tuple[int, int]:
        """(epoch, pairs into it) where ``reader`` resumes: batches go round-robin to the readers."""
        done = max(0, (skip_batches - reader + readers - 1) // readers) * batch_size
        per_epoch = sum(stop - start for start, stop in reader_blocks[reader])
        return divmod(done, per_epoch)

    def generator(reader: int) -> Iterator[Batch]:
        reader = int(reader)
        if not training:
            return rebatch(ordered_windows(source, reader_blocks[0]), batch_size, keep_last=True)
        # with repeat one generator runs every epoch (carrying the last incomplete
        # batch over); without, each new iteration (a Keras epoch) is the next epoch
        first, skip = resume_point(reader) if repeat else (0, 0)
        epochs = itertools.count(first) if repeat else iter([next(invocations[reader])])
        windows = shuffled_windows(source, reader_blocks[reader], window_blocks, seed,
                                   shard * 1000 + reader, epochs, skip_pairs=skip)
        return rebatch(windows, batch_size, keep_last=False)

    batches = _batch_dataset(generator, readers, info.image_size, first_reader=skip_batches % readers)
    batches = batches.apply(tf.data.experimental.assert_cardinality(
        _batch_count(reader_blocks, batch_size, training, repeat)))  # Keras then knows the epoch length
    batches = batches.map(lambda references, distorted, y: ((references, distorted), y))
    if training:
        shape = [batch_size, info.image_size, info.image_size, 3]
        batches = batches.map(lambda images, y: ((tf.ensure_shape(images[0], shape),
                                                  tf.ensure_shape(images[1], shape)),
                                                 tf.ensure_shape(y, [batch_size])))
    if repeat and not training:
        batches = batches.repeat()
    return batches.prefetch(tf.data.AUTOTUNE)


def _batch_count(reader_blocks: list[Blocks], batch_size: int, training: bool, repeat: bool) -> int:
    """Batches one iteration yields (infinite when training repeats)."""
    if training and repeat:
        return int(tf.data.INFINITE_CARDINALITY)
    pairs = [sum(stop - start for start, stop in blocks) for blocks in reader_blocks]
    if training:
        return sum(count // batch_size for count in pairs)
    return sum(math.ceil(count / batch_size) for count in pairs)
