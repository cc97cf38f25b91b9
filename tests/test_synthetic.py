"""The built-in KADID-style synthetic set: distortions, labels, files, export, script."""

from __future__ import annotations

import hashlib
import json
import re
import time

import cv2
import h5py
import numpy as np
import pytest

from asna.data import synthetic
from asna.data.distortions import (BY_ID, DISTORTIONS, LEVELS, distort, jittered_parameter, level_parameter,
                                   mos_standardization, read_mos_table)
from asna.data.layout import decode_strings, open_pairs, read_standardization
from conftest import error_lines, run_script

CHEAP_TYPES = (1, 4, 10, 13, 20)  # one colour-only type (4) to check grey photographs skip it
# PSNR against the reference must not rise with the level for these types
# (Mean_Shift and Contrast change go both ways by design; the patch types and
# colour blocks move random patches, so their PSNR is only roughly monotone).
MONOTONE_TYPES = (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 21, 22, 24)


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    error = np.mean((reference.astype(np.float64) - image) ** 2)
    return 100.0 if error == 0 else 10 * np.log10(255.0 ** 2 / error)


@pytest.fixture(scope="module")
def crops() -> dict[int, np.ndarray]:
    """A natural colour crop at a few sizes (astronaut, shrunk like the generator does)."""
    photo = synthetic.load_photograph("astronaut", None)
    return {size: np.ascontiguousarray(cv2.resize(photo, (size * 3 // 2, size * 3 // 2),
                                                  interpolation=cv2.INTER_AREA)[:size, :size])
            for size in (32, 64, 96)}


def file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- the table and the distortions

def test_table_has_every_type_and_level_with_our_names():
    table = read_mos_table()
    assert len(table) == 125
    for kind in DISTORTIONS:
        for level in LEVELS:
            entry = table[(kind.type_id, level)]
            assert entry.name == kind.name and 1.0 <= entry.mos_mean <= 5.0
    assert len(DISTORTIONS) == 25 and len({d.type_id for d in DISTORTIONS}) == 25
    mean, std = mos_standardization([d.type_id for d in DISTORTIONS], table)
    assert mean == pytest.approx(3.0326, abs=1e-4) and std == pytest.approx(1.0214, abs=1e-4)


@pytest.mark.parametrize("size", [32, 64])
def test_every_distortion_keeps_shape_and_type_and_is_fast(crops, size):
    image = crops[size]
    started = time.perf_counter()
    for kind in DISTORTIONS:
        for level in LEVELS:
            out = distort(image, kind.type_id, level, (0, 1))
            assert out.shape == image.shape and out.dtype == np.uint8, (kind.name, level)
    assert time.perf_counter() - started < 30


def test_distortions_are_deterministic_for_a_seed(crops):
    image = crops[64]
    for kind in DISTORTIONS:
        first = distort(image, kind.type_id, 3, (5, 2))
        np.testing.assert_array_equal(first, distort(image, kind.type_id, 3, (5, 2)))
    random_types = (3, 5, 6, 11, 13, 19, 20, 23)
    assert any(not np.array_equal(distort(image, t, 4, (5, 2)), distort(image, t, 4, (6, 2)))
               for t in random_types)


@pytest.mark.parametrize("size", [64, 96])
def test_psnr_does_not_rise_with_level(crops, size):
    image = crops[size]
    for type_id in MONOTONE_TYPES:
        values = [psnr(image, distort(image, type_id, level, (0, 3))) for level in LEVELS]
        assert all(later <= earlier + 0.05 for earlier, later in zip(values, values[1:])), \
            (BY_ID[type_id].name, [round(v, 2) for v in values])
        assert values[-1] < 40, BY_ID[type_id].name  # the strongest level is visible


def test_every_type_changes_the_image_at_its_strongest_level(crops):
    image = crops[64]
    for kind in DISTORTIONS:
        worst = min(psnr(image, distort(image, kind.type_id, level, (0, 3))) for level in LEVELS)
        assert worst < 35, kind.name


def test_mean_shift_and_contrast_are_identity_at_their_middle_level(crops):
    image = crops[64]
    for type_id in (18, 25):
        np.testing.assert_array_equal(distort(image, type_id, 3), image)


def test_jittered_parameters_stay_between_the_neighbouring_levels():
    for kind in DISTORTIONS:
        for level in LEVELS:
            assert jittered_parameter(kind.type_id, level, (0, 1), 0.0) == kind.parameters[level - 1]
            values = [jittered_parameter(kind.type_id, level, (seed, 1), 0.5) for seed in range(40)]
            low = level_parameter(kind.type_id, level - 0.5)
            high = level_parameter(kind.type_id, level + 0.5)
            assert all(min(low, high) - 1e-12 <= v <= max(low, high) + 1e-12 for v in values), kind.name
            if level == 3 and kind.parameters[1] != kind.parameters[3]:
                assert len(set(values)) > 30, kind.name  # really drawn, not one value
    assert level_parameter(1, 2.5) == pytest.approx(0.75)  # halfway between sigma 0.5 and 1
    assert level_parameter(10, 9.0) == 4  # clipped to level 5


def test_jitter_changes_the_distortion_but_keeps_it_seeded(crops):
    image = crops[64]
    exact = distort(image, 1, 3, (0, 1))
    jittered = [distort(image, 1, 3, (seed, 1), jitter=0.5) for seed in (0, 1)]
    assert not np.array_equal(exact, jittered[0]) and not np.array_equal(jittered[0], jittered[1])
    np.testing.assert_array_equal(jittered[0], distort(image, 1, 3, (0, 1), jitter=0.5))


# ---------------------------------------------------------------- the prepared files

@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    export = out / "export"
    summary = synthetic.create_synthetic(out, image_size=32, crops_per_image=2, seed=3, export_dir=export,
                                         type_ids=CHEAP_TYPES)
    return out, export, summary


def test_counts_are_references_times_types_times_levels(tiny_set):
    out, _, summary = tiny_set
    references, _ = synthetic.prepare_references(32, 2, 3, synthetic.make_variation(2))
    grey = sum(r.grey for r in references)
    train_photographs = len(synthetic.PHOTOGRAPHS) - len(synthetic.VAL_PHOTOGRAPHS) - len(synthetic.TEST_PHOTOGRAPHS)
    assert synthetic.TRAIN_CROPS_FACTOR == 4  # training photographs give 4 x 2 crops by default
    assert len(references) == 8 * train_photographs + 2 * (len(synthetic.PHOTOGRAPHS) - train_photographs)
    expected = (len(references) - grey) * len(CHEAP_TYPES) * 5 + grey * (len(CHEAP_TYPES) - 1) * 5
    assert summary.pairs["train"] + summary.pairs["val"] + summary.pairs["test"] == expected
    assert synthetic.expected_pairs(references, CHEAP_TYPES) == expected
    test = [r for r in references if r.split == "test"]
    assert summary.pairs["xtest"] == summary.pairs["test"] == synthetic.expected_pairs(test, CHEAP_TYPES)
    counts = {}
    for name in synthetic.FILES:
        with open_pairs(out / f"synthetic_{name}.h5") as handle:
            counts[name] = handle["x"].shape[0]
            assert handle["x"].shape[1:] == (2, 32, 32, 3) and handle.attrs["split"] == name
    assert counts == summary.pairs


def test_labels_equal_the_table_and_are_standardised(tiny_set):
    out, _, _ = tiny_set
    table = read_mos_table()
    mean, std = mos_standardization(CHEAP_TYPES, table)
    for split in synthetic.FILES:
        with open_pairs(out / f"synthetic_{split}.h5") as handle:
            names = decode_strings(handle["dist_name"][:])
            mos, y = handle["mos"][:], handle["y"][:]
            assert read_standardization(handle) == {"synthetic": (mean, std)}
            assert set(decode_strings(handle["source"][:])) == {"synthetic"}
            for name, value in zip(names, mos):
                ref, type_id, level = re.fullmatch(r"(A\d{4})_(\d{2})_(\d{2})\.bmp", name).groups()
                assert value == pytest.approx(table[(int(type_id), int(level))].mos_mean, abs=1e-6)
            np.testing.assert_allclose(y, (mos - mean) / std, atol=1e-5)


def test_splits_share_no_reference_and_no_photograph(tiny_set):
    out, _, summary = tiny_set
    references, photographs = {}, {}
    for split in synthetic.SPLITS:
        with open_pairs(out / f"synthetic_{split}.h5") as handle:
            references[split] = set(decode_strings(handle["ref_id"][:]))
            records = json.loads(handle.attrs["references"])
        assert set(records) == references[split]
        photographs[split] = {record["photo"] for record in records.values()}
        assert photographs[split] == set(synthetic.file_photographs(out / f"synthetic_{split}.h5"))
    for first, second in (("train", "val"), ("train", "test"), ("val", "test")):
        assert references[first] and not references[first] & references[second]
        assert not photographs[first] & photographs[second]
    assert photographs["test"] == set(synthetic.TEST_PHOTOGRAPHS) == set(summary.photographs["test"])
    assert photographs["val"] == set(synthetic.VAL_PHOTOGRAPHS)
    assert {"motorcycle_left", "motorcycle_right"} <= photographs["train"]  # the stereo views stay together
    grey = {name for name, _, _, is_grey in synthetic.PHOTOGRAPHS if is_grey}
    assert len(photographs["test"] & grey) == 2 and len(photographs["test"] - grey) == 2  # colour and grey


def test_training_crops_vary_in_scale_and_colour_and_the_others_do_not():
    exact, _ = synthetic.prepare_references(32, 1, 0)
    varied, _ = synthetic.prepare_references(32, 1, 0, synthetic.make_variation(1))
    assert len(varied) == len(exact) + 3 * sum(r.split == "train" for r in exact)
    by_photo = lambda refs: {r.photo: r for r in refs if r.split != "train"}  # noqa: E731
    for photo, reference in by_photo(exact).items():
        np.testing.assert_array_equal(reference.image, by_photo(varied)[photo].image)
    photographs = {p.name: p for p in synthetic.load_photographs(32)[0]}
    colour = [r for r in varied if r.split == "train" and not r.grey]
    # a crop found nowhere in its photograph at the fixed scale, in its own channel order, was rescaled or reordered
    changed = 0
    for reference in colour:
        scene = photographs[reference.photo].image
        if reference.top + 32 > scene.shape[0] or reference.left + 32 > scene.shape[1] or not np.array_equal(
                scene[reference.top:reference.top + 32, reference.left:reference.left + 32], reference.image):
            changed += 1
    assert changed >= len(colour) // 2


def test_native_share_cuts_training_crops_from_the_photograph_as_loaded():
    photographs = {p.name: p for p in synthetic.load_photographs(32)[0]}

    def found_at_native_scale(reference) -> bool:
        original = photographs[reference.photo].original
        window = original[reference.top:reference.top + 32, reference.left:reference.left + 32]
        return window.shape == reference.image.shape and np.array_equal(window, reference.image)

    for share, expected in ((1.0, 1.0), (0.0, 0.0)):
        variation = synthetic.make_variation(1, 6, colour=False, native_share=share)
        train = [r for r in synthetic.prepare_references(32, 1, 0, variation)[0] if r.split == "train"]
        native = np.mean([found_at_native_scale(r) for r in train])
        assert native == pytest.approx(expected, abs=0.05), share
    # half by default, and crops as smooth as a photograph has them are kept (only blank ones redrawn)
    variation = synthetic.make_variation(1, 20, colour=False)
    train = [r for r in synthetic.prepare_references(32, 1, 0, variation)[0] if r.split == "train"]
    assert 0.3 < np.mean([found_at_native_scale(r) for r in train]) < 0.7
    spreads = [r.image[::2, ::2].mean(axis=2).std() for r in train]
    assert min(spreads) >= synthetic.TRAIN_MIN_CROP_STD and sum(s < synthetic.MIN_CROP_STD for s in spreads) > 0


def test_reference_is_the_same_crop_in_every_pair_of_its_id(tiny_set):
    out, _, _ = tiny_set
    with open_pairs(out / "synthetic_train.h5") as handle:
        refs, x = decode_strings(handle["ref_id"][:]), handle["x"][:]
    first = {}
    for ref_id, pair in zip(refs, x):
        np.testing.assert_array_equal(first.setdefault(ref_id, pair[0]), pair[0])


def test_export_folder_format(tiny_set):
    out, export, summary = tiny_set
    lines = (export / "labels.txt").read_text().splitlines()
    assert len(lines) == sum(summary.pairs[split] for split in synthetic.SPLITS)
    table = read_mos_table()
    references = sorted(p.name for p in (export / "Ref").iterdir())
    assert references[0] == "A0001.bmp"
    assert len(references) == sum(len(summary.references[split]) for split in synthetic.SPLITS)
    for line in lines:
        name, score = line.split(",")
        ref, type_id, level = re.fullmatch(r"(A\d{4})_(\d{2})_(\d{2})\.bmp", name).groups()
        assert float(score) == pytest.approx(table[(int(type_id), int(level))].mos_mean)
        assert (export / "Dis" / name).is_file()
    image = cv2.imread(str(export / "Dis" / lines[0].split(",")[0]))[..., ::-1]
    for split in synthetic.SPLITS:
        with open_pairs(out / f"synthetic_{split}.h5") as handle:
            names = decode_strings(handle["dist_name"][:])
            if lines[0].split(",")[0] in names:
                np.testing.assert_array_equal(handle["x"][names.index(lines[0].split(",")[0]), 1], image)


def test_same_arguments_give_the_same_bytes(tiny_set, tmp_path):
    out, _, _ = tiny_set
    again = synthetic.create_synthetic(tmp_path, image_size=32, crops_per_image=2, seed=3, type_ids=CHEAP_TYPES)
    assert again.pairs == tiny_set[2].pairs
    for name in synthetic.FILES:
        assert file_digest(tmp_path / f"synthetic_{name}.h5") == file_digest(out / f"synthetic_{name}.h5")
    options = synthetic.built_options(out)
    assert options["seed"] == 3 and options["jitter"] == synthetic.DEFAULT_JITTER
    assert options == synthetic.generator_options(32, 2, 3, synthetic.make_variation(2), synthetic.DEFAULT_JITTER,
                                                  CHEAP_TYPES)
    other = synthetic.create_synthetic(tmp_path / "other", image_size=32, crops_per_image=2, seed=4,
                                       type_ids=CHEAP_TYPES)
    assert file_digest(tmp_path / "other" / "synthetic_train.h5") != file_digest(out / "synthetic_train.h5")
    assert other.pairs == again.pairs


def test_jitter_touches_only_the_training_file(tiny_set, tmp_path):
    out, _, _ = tiny_set
    synthetic.create_synthetic(tmp_path, image_size=32, crops_per_image=2, seed=3, type_ids=CHEAP_TYPES,
                               jitter=0.0, xtest=False)
    assert not (tmp_path / "synthetic_xtest.h5").exists() and synthetic.built_options(tmp_path) is None
    for split in ("val", "test"):
        with open_pairs(tmp_path / f"synthetic_{split}.h5") as exact, open_pairs(out / f"synthetic_{split}.h5") as made:
            np.testing.assert_array_equal(exact["x"][:], made["x"][:])
    with open_pairs(tmp_path / "synthetic_train.h5") as exact, open_pairs(out / "synthetic_train.h5") as made:
        np.testing.assert_array_equal(exact["x"][:, 0], made["x"][:, 0])  # same references
        assert not np.array_equal(exact["x"][:, 1], made["x"][:, 1])  # other strengths
        np.testing.assert_array_equal(exact["mos"][:], made["mos"][:])  # same labels


@pytest.mark.slow
def test_workers_do_not_change_the_files(tmp_path):
    for workers in (1, 2):
        synthetic.create_synthetic(tmp_path / str(workers), image_size=32, crops_per_image=1, seed=0,
                                   type_ids=(2, 9, 15), workers=workers)
    for name in synthetic.FILES:
        assert file_digest(tmp_path / "1" / f"synthetic_{name}.h5") == \
            file_digest(tmp_path / "2" / f"synthetic_{name}.h5")


def test_small_photographs_are_enlarged_at_most_once_and_large_sizes_refused():
    assert synthetic.working_scale(172, 288) == pytest.approx(288 / 172)  # 'text', enlarged 1.67x
    assert synthetic.working_scale(100, 288) is None  # would need 2.9x
    assert synthetic.working_scale(512, 64) == pytest.approx(96 / 512)  # shrunk to 1.5 x the crop
    assert synthetic.working_scale(300, 288) == 1.0
    photographs, skipped = synthetic.load_photographs(512)
    assert len(photographs) >= synthetic.MIN_PHOTOGRAPHS and any("page" in s for s in skipped)


@pytest.mark.parametrize("arguments", [dict(image_size=16), dict(image_size=4096), dict(crops_per_image=0),
                                       dict(train_crops_per_image=101), dict(jitter=-0.1), dict(jitter=1.5),
                                       dict(scale_range=(0.5, 2.0)), dict(scale_range=(2.0, 1.5)), dict(seed=-1),
                                       dict(scale_range=(1.0, 20.0)), dict(native_share=1.5),
                                       dict(type_ids=(26,))])
def test_bad_arguments_are_user_errors(tmp_path, arguments):
    from asna.core.errors import UserError

    with pytest.raises(UserError):
        synthetic.create_synthetic(tmp_path, **arguments)


def test_export_folder_must_be_new_or_empty(tmp_path):
    from asna.core.errors import UserError

    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "old.txt").write_text("x")
    with pytest.raises(UserError, match="empty folder"):
        synthetic.create_synthetic(tmp_path / "out", image_size=32, export_dir=tmp_path / "export",
                                   type_ids=(1,))


def test_grid_figure(tmp_path):
    path = synthetic.save_grid(tmp_path / "grid.png", image_size=32)
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 13 * 32 and image.shape[1] > 10 * 32


# ---------------------------------------------------------------- the script

@pytest.mark.slow
def test_script_builds_the_full_set_at_a_tiny_size(tmp_path):
    result = run_script("prepare_dataset/create_data_synthetic.py", "--out", str(tmp_path / "out"),
                        "--image-size", "32", "--workers", "1", "--grid", str(tmp_path / "grid.png"), "--no-full",
                        timeout=300)
    assert result.returncode == 0, result.stderr
    assert all(f"{name}:" in result.stdout for name in synthetic.FILES) and "done in" in result.stdout
    counts = {}
    for name in synthetic.FILES:
        with h5py.File(tmp_path / "out" / f"synthetic_{name}.h5", "r") as handle:
            counts[name] = handle["x"].shape[0]
    # colour photographs: 25 types, grey ones: 22; training photographs give 4 crops, the others 1
    assert counts == {"train": 4 * (5 * 125 + 5 * 110), "val": 2 * 125 + 110, "test": 2 * 125 + 2 * 110,
                      "xtest": 2 * 125 + 2 * 110}
    assert (tmp_path / "grid.png").is_file()


@pytest.mark.parametrize("arguments, message", [
    (["--image-size", "5000"], "--image-size 5000"),
    (["--jitter", "1.5"], "--jitter 1.5"),
    (["--scale-range", "0.5,2"], "--scale-range 0.5,2"),
    (["--crops-per-image", "0"], "--crops-per-image 0"),
    ([], "nothing to do"),
])
def test_script_bad_arguments_give_one_line(tmp_path, arguments, message):
    out = ["--out", str(tmp_path / "out")] if arguments else []
    result = run_script("prepare_dataset/create_data_synthetic.py", *out, *arguments, timeout=120)
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_no_photograph_is_one_the_outside_checks_are_made_from():
    """skimage's camera is also PyWavelets' camera; ascent and face are SciPy's and PyWavelets', china and
    flower scikit-learn's, grace_hopper matplotlib's, quokka imgaug's: none may be trained or tested on."""
    bundled_elsewhere = {"camera", "cameraman", "ascent", "face", "aero", "china", "flower", "grace_hopper",
                         "quokka"}
    names = {entry[0] for entry in synthetic.PHOTOGRAPHS} | {entry[1] for entry in synthetic.PHOTOGRAPHS}
    assert not names & bundled_elsewhere
    assert len(synthetic.TEST_PHOTOGRAPHS) == 4 and set(synthetic.TEST_PHOTOGRAPHS) <= names
