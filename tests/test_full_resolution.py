"""The full-resolution check folders: native windows, names, labels, reuse, kill-safety, generators."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from asna.core.errors import UserError
from asna.data import full_resolution as full
from asna.data import synthetic, xtest_distortions
from asna.data.distortions import BY_ID, LEVELS, distort, read_mos_table

SIDE = 96  # small windows: the tests take seconds
TYPES = (1, 4, 10, 13)  # one colour-only type (4): grey photographs skip it


def build(data_dir, **options):
    return full.build_full_resolution(data_dir, **{"seed": 0, "type_ids": TYPES, "max_side": SIDE, **options})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("full")
    return data_dir, build(data_dir)


def photo_window(name: str) -> np.ndarray:
    entry = next(e for e in synthetic.PHOTOGRAPHS if e[0] == name)
    return full.central_window(synthetic.as_rgb(synthetic.load_photograph(entry[1], entry[2])), SIDE)


def read_png(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image[..., ::-1]


def test_window_is_central_capped_and_a_multiple_of_16():
    assert full.window_box(300, 451, 640) == (6, 1, 288, 448)
    assert full.window_box(1411, 1411, 640) == (385, 385, 640, 640)
    assert full.window_box(512, 512, 96) == (208, 208, 96, 96)
    image = np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3)
    np.testing.assert_array_equal(full.central_window(image, 640), image[4:36, 1:49])


def test_folders_hold_native_windows_with_kadid_names_and_labels(built):
    data_dir, summaries = built
    table = read_mos_table()
    specs = {spec.name: spec for spec in full.specs()}
    assert [s.name for s in summaries] == list(full.FOLDERS)
    for summary in summaries:
        folder = data_dir / summary.name
        photos = specs[summary.name].photographs
        assert sorted(p.stem for p in (folder / "Ref").glob("*.png")) == sorted(photos)
        labels = dict(line.split(",") for line in (folder / "labels.txt").read_text().splitlines())
        expected = set()
        for photo in photos:
            window = photo_window(photo)
            np.testing.assert_array_equal(read_png(folder / "Ref" / f"{photo}.png"), window)  # not shrunk
            grey = next(e[3] for e in synthetic.PHOTOGRAPHS if e[0] == photo)
            for type_id in TYPES:
                if grey and BY_ID[type_id].colour_only:
                    continue
                for level in LEVELS:
                    name = f"{photo}_{type_id:02d}_{level:02d}.png"
                    expected.add(name)
                    assert float(labels[name]) == pytest.approx(table[(type_id, level)].mos_mean, abs=1e-5)
                    assert read_png(folder / "Dis" / name).shape == window.shape
        assert set(labels) == expected == {p.name for p in (folder / "Dis").iterdir()}
        assert summary.pairs == len(expected) and not summary.reused
        assert all(size == (SIDE, SIDE) for size in summary.photographs.values())
        options = json.loads((folder / "options.json").read_text())
        assert options["photographs"] == list(photos) and options["max_side"] == SIDE
        assert f"{summary.pairs} pairs from {len(photos)} photographs" in summary.line()
    # colour photographs: 4 types, grey ones 3 (no type 4); val: 2 colour + 1 grey, test: 2 + 2
    assert [s.pairs for s in summaries] == [(2 * 4 + 3) * 5, (2 * 4 + 2 * 3) * 5]
    assert not [p.name for p in data_dir.iterdir() if p.name.startswith(".")]  # no temporary left


def test_test_folder_uses_the_second_implementation_and_val_the_main_generator(built):
    data_dir, _ = built
    for folder, photo, generator in (("full_test", "chelsea", "xtest"), ("full_val", "rocket", "main")):
        index = next(s for s in full.specs() if s.name == folder).photographs.index(photo)
        stream = [0, 5 if folder == "full_test" else 4, index]
        window = photo_window(photo)
        written = read_png(data_dir / folder / "Dis" / f"{photo}_01_05.png")
        main = distort(window, 1, 5, stream, 0.0)
        second = xtest_distortions.distort(window, 1, 5, stream)
        assert not np.array_equal(main, second)
        np.testing.assert_array_equal(written, second if generator == "xtest" else main)
    xtest_options = json.loads((data_dir / "full_test" / "options.json").read_text())
    assert xtest_options["generator"] == "asna.data.xtest_distortions"


def test_reused_while_options_match_and_rebuilt_when_they_change(tmp_path):
    first = build(tmp_path, type_ids=(1,))
    stamp = (tmp_path / "full_val" / "labels.txt").stat().st_mtime_ns
    again = build(tmp_path, type_ids=(1,))
    assert all(s.reused for s in again) and [s.pairs for s in again] == [s.pairs for s in first]
    assert (tmp_path / "full_val" / "labels.txt").stat().st_mtime_ns == stamp
    assert "reused" in again[0].line()
    changed = build(tmp_path, type_ids=(1,), seed=1)
    assert not any(s.reused for s in changed)
    assert json.loads((tmp_path / "full_val" / "options.json").read_text())["seed"] == 1
    bigger = build(tmp_path, type_ids=(1,), seed=1, max_side=112)
    assert bigger[0].photographs["rocket"] == (112, 112)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_killed_build_leaves_the_old_folder_and_no_finished_looking_one(tmp_path, monkeypatch):
    build(tmp_path, type_ids=(1,))
    before = (tmp_path / "full_val" / "labels.txt").read_text()

    def fail(task):
        raise KeyboardInterrupt

    monkeypatch.setattr(full, "distort_type", fail)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path, type_ids=(1,), seed=2)
    assert (tmp_path / "full_val" / "labels.txt").read_text() == before  # untouched
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.is_dir()]
    (tmp_path / ".full_val.partial" / "Dis").mkdir(parents=True)  # as a kill -9 leaves it
    monkeypatch.undo()
    assert not build(tmp_path, type_ids=(1,), seed=2)[0].reused
    assert not (tmp_path / ".full_val.partial").exists()


def test_a_foreign_folder_is_not_replaced(tmp_path):
    (tmp_path / "full_val").mkdir()
    (tmp_path / "full_val" / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match="full_val: exists and is not a full-resolution folder"):
        build(tmp_path, type_ids=(1,))
    assert (tmp_path / "full_val" / "mine.txt").read_text() == "keep me"


def test_per_type_parsing_of_the_names(built):
    from asna.evaluation.folders import labelled_pairs, match_pairs, read_labels
    from asna.evaluation.per_type import folder_types

    data_dir, _ = built
    folder = data_dir / "full_test"
    pairs, mos = labelled_pairs(match_pairs(folder / "Ref", folder / "Dis"), read_labels(folder / "labels.txt"),
                                folder / "labels.txt")
    assert {p.reference.stem for p in pairs} == set(synthetic.TEST_PHOTOGRAPHS)
    types = folder_types([p.name for p in pairs], "kadid")
    assert not types.note and set(types.keys) == {"1", "4", "10", "13"}
    assert types.names["10"] == "JPEG" and types.names["1"] == "GBLUR"
    assert full.folder_photographs(folder) == sorted(synthetic.TEST_PHOTOGRAPHS)


@pytest.mark.parametrize("options, message", [
    ({"max_side": 8}, "max side 8"), ({"seed": -1}, "--seed -1"), ({"type_ids": (30,)}, "distortion types"),
    ({"workers": 0}, "--workers 0"),
])
def test_bad_arguments_are_one_line(tmp_path, options, message):
    with pytest.raises(UserError, match=message):
        build(tmp_path, **options)


def test_create_synthetic_writes_them_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(full, "MAX_SIDE", SIDE)
    options = dict(image_size=32, crops_per_image=1, seed=0, type_ids=(1, 10), train_crops_per_image=1,
                   xtest=False)
    summary = synthetic.create_synthetic(tmp_path / "plain", **options)
    assert summary.full == [] and not (tmp_path / "plain" / "full_val").exists()
    summary = synthetic.create_synthetic(tmp_path / "with", full=True, **options)
    assert [s.name for s in summary.full] == list(full.FOLDERS)
    assert (tmp_path / "with" / "full_test" / "Dis" / "clock_10_05.png").is_file()
    lines = synthetic.summary_lines(summary, tmp_path / "with")
    assert any(line.startswith("full_test: 40 pairs from 4 photographs (chelsea 96x96") for line in lines)


def test_the_demo_reports_the_test_folder_as_a_user_scores_it(tmp_path):
    from asna.studies.demo import reported_sets

    sets = reported_sets(tmp_path)
    assert list(sets) == ["test", "xtest", "full"]
    chosen = sets["full"]
    assert chosen.folder == tmp_path / "full_test" and chosen.fit == "tile" and chosen.type_names == "kadid"
    assert chosen.title == ("the test photographs at their own resolution (second implementation, "
                            "scored as a folder)")
    build(tmp_path, type_ids=(1,))
    assert chosen.photographs() == sorted(synthetic.TEST_PHOTOGRAPHS)


def test_the_script_documents_no_full():
    from conftest import run_script

    result = run_script("prepare_dataset/create_data_synthetic.py", "--help", timeout=120)
    assert result.returncode == 0 and "--no-full" in result.stdout and "full_test" in result.stdout


def test_the_script_refuses_a_foreign_folder_before_any_work(tmp_path):
    from conftest import error_lines, run_script

    (tmp_path / "full_test").mkdir()
    (tmp_path / "full_test" / "notes.txt").write_text("mine")
    result = run_script("prepare_dataset/create_data_synthetic.py", "--out", str(tmp_path), "--image-size", "32",
                        timeout=120)
    assert result.returncode == 2 and not (tmp_path / "synthetic_train.h5").exists()
    assert error_lines(result) == [f"error: {tmp_path / 'full_test'}: exists and is not a full-resolution folder "
                                   "(no readable options.json); move it away or choose another data folder"]
