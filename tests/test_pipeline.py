"""The tf.data input pipeline: shapes, order, determinism, sharding (augmentation: test_augment.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from asna.data.layout import PairWriter
from asna.data.pipeline import file_info, make_dataset, read_targets

SIZE = 8
COUNT = 37


def write_pairs(path, count: int = COUNT, size: int = SIZE, compression=None):
    """A tiny prepared file; pair i has mos i (standardisation (0, 1), so y == i)."""
    rng = np.random.default_rng(7)
    references = rng.integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)
    distorted = rng.integers(0, 256, size=references.shape, dtype=np.uint8)
    with PairWriter(path, size, {"synthetic": (0.0, 1.0)}, "train", 0, compression=compression,
                    buffer_pairs=8) as writer:
        for i in range(count):
            writer.append(references[i], distorted[i], float(i), f"A{i:04d}_01_01.bmp", f"A{i:04d}", "synthetic")
    return references, distorted


@pytest.fixture
def pair_file(tmp_path):
    path = tmp_path / "pairs.h5"
    references, distorted = write_pairs(path)
    return path, references, distorted


def collect(dataset, batches: int | None = None):
    """(references, distorted, y) of the first ``batches`` batches (all when None) as NumPy."""
    refs, dists, ys = [], [], []
    for number, ((reference, distorted), y) in enumerate(dataset):
        if batches is not None and number >= batches:
            break
        refs.append(reference.numpy())
        dists.append(distorted.numpy())
        ys.append(y.numpy())
    return np.concatenate(refs), np.concatenate(dists), np.concatenate(ys)


def test_file_info_and_targets_without_images(pair_file):
    path, _, _ = pair_file
    info = file_info(path)
    assert (info.count, info.image_size, len(info)) == (COUNT, SIZE, COUNT)
    assert info.image_bytes == COUNT * 2 * SIZE * SIZE * 3
    assert info.sources == ("synthetic",)
    np.testing.assert_array_equal(read_targets(path), np.arange(COUNT, dtype=np.float32))


def test_training_batches_shapes_dtypes_and_drop_remainder(pair_file):
    path, references, distorted = pair_file
    dataset = make_dataset(path, 16, training=True, seed=1, repeat=False)
    (reference, dist), y = next(iter(dataset))
    assert reference.dtype == tf.uint8 and dist.dtype == tf.uint8 and y.dtype == tf.float32
    assert tuple(reference.shape) == (16, SIZE, SIZE, 3) and tuple(y.shape) == (16,)
    assert dataset.element_spec[0][0].shape.as_list() == [16, SIZE, SIZE, 3]
    refs, dists, ys = collect(dataset)
    assert len(ys) == 32  # 37 pairs: two full batches, the rest dropped
    assert len(set(ys.tolist())) == 32
    index = ys.astype(int)
    np.testing.assert_array_equal(refs, references[index])  # no augmentation: pairs unchanged
    np.testing.assert_array_equal(dists, distorted[index])
    assert not np.array_equal(index, np.sort(index))  # shuffled


def test_evaluation_keeps_every_pair_in_file_order(pair_file):
    path, references, distorted = pair_file
    dataset = make_dataset(path, 16, training=False)
    sizes = [int(y.shape[0]) for _, y in dataset]
    assert sizes == [16, 16, 5]
    refs, dists, ys = collect(dataset)
    np.testing.assert_array_equal(ys, np.arange(COUNT))
    np.testing.assert_array_equal(refs, references)
    np.testing.assert_array_equal(dists, distorted)


def test_training_batches_hold_the_stored_pairs_unchanged(pair_file):
    """Augmentation happens in the train step on the device; the pipeline only reads."""
    path, references, distorted = pair_file
    refs, dists, ys = collect(make_dataset(path, 8, training=True, seed=3), batches=4)
    index = ys.astype(int)
    assert len(set(index)) == len(index) and not np.array_equal(index, np.sort(index))  # shuffled
    np.testing.assert_array_equal(refs, references[index])
    np.testing.assert_array_equal(dists, distorted[index])


def test_same_seed_same_batches_other_seed_other_order(pair_file):
    path, _, _ = pair_file

    def first(seed: int):
        return collect(make_dataset(path, 16, training=True, seed=seed), batches=4)

    a, b, c = first(11), first(11), first(12)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a[2], c[2])


def test_each_epoch_has_a_new_order(pair_file):
    path, _, _ = pair_file
    repeating = collect(make_dataset(path, 16, training=True, seed=2), batches=4)[2]
    assert not np.array_equal(repeating[:32], repeating[32:64])  # epochs 1 and 2 (carried over)
    single = make_dataset(path, 16, training=True, seed=2, repeat=False)
    first, second = collect(single)[2], collect(single)[2]  # two Keras-style epochs
    assert len(first) == len(second) == 32
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("training", [False, True])
def test_sharding_gives_disjoint_pairs_covering_the_file(pair_file, training):
    path, _, _ = pair_file
    shards = []
    for index in range(3):
        context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=index,
                                             num_replicas_in_sync=3)
        dataset = make_dataset(path, 2, training=training, seed=4, input_context=context,
                               repeat=False, read_block=4)
        shards.append(set(collect(dataset)[2].astype(int).tolist()))
    assert not (shards[0] & shards[1]) and not (shards[0] & shards[2]) and not (shards[1] & shards[2])
    union = set().union(*shards)
    if training:
        assert len(union) >= COUNT - 3  # each shard drops at most one incomplete batch
    else:
        assert union == set(range(COUNT))


def test_in_memory_copy_gives_the_same_batches(pair_file):
    path, _, _ = pair_file
    streamed = collect(make_dataset(path, 16, training=True, seed=9), batches=3)
    held = collect(make_dataset(path, 16, training=True, seed=9, in_memory_budget_bytes=10 ** 6), batches=3)
    for left, right in zip(streamed, held):
        np.testing.assert_array_equal(left, right)


def test_compressed_storage_reads_the_same(tmp_path):
    plain, packed = tmp_path / "plain.h5", tmp_path / "gzip.h5"
    write_pairs(plain)
    write_pairs(packed, compression="gzip")
    for left, right in zip(collect(make_dataset(plain, 16, training=True, seed=1), batches=3),
                           collect(make_dataset(packed, 16, training=True, seed=1), batches=3)):
        np.testing.assert_array_equal(left, right)


def test_two_readers_cover_an_epoch(pair_file):
    path, _, _ = pair_file
    ys = collect(make_dataset(path, 4, training=True, seed=1, repeat=False, readers=2, read_block=4))[2]
    assert len(ys) == len(set(ys.tolist())) >= COUNT - 7


def test_bad_path_is_a_user_error(tmp_path):
    from asna.core.errors import UserError

    with pytest.raises(UserError):
        make_dataset(tmp_path / "missing.h5", 4, training=False)


def test_cardinality_is_known_so_keras_knows_the_epoch(pair_file):
    path, _, _ = pair_file
    assert make_dataset(path, 16, training=False).cardinality().numpy() == 3
    assert make_dataset(path, 16, training=True, repeat=False).cardinality().numpy() == 2
    assert make_dataset(path, 16, training=True).cardinality().numpy() == tf.data.INFINITE_CARDINALITY
