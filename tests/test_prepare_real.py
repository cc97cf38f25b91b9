"""The real-dataset preparation scripts, run as users run them, on small copies of the real layouts.

Checks what the training code relies on: counts, scores, y = (mos - mean) / std
from the stored attribute, exact pixels (RGB, reference at index 0, centre crop
and pad offsets), no reference in both splits; and that bad input ends in one
line, exit code 2 and no output file, or with --skip-bad in a list of skipped pairs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from asna.core.errors import UserError  # noqa: E402
from asna.data import images, preparation  # noqa: E402
from asna.data.layout import decode_strings, open_pairs, read_standardization  # noqa: E402
from real_layouts import (PIPAL_NAMINGS, ExpectedPair, make_pieapp, make_pipal, make_tid,  # noqa: E402
                          random_rgb, write_rgb)

PIEAPP_TID = ROOT / "prepare_dataset" / "create_data_pieapp_tid.py"
PIPAL = ROOT / "prepare_dataset" / "create_data_pipal.py"
SIZE = 32
SMALL = ["--image-size", str(SIZE)]
PIEAPP_SMALL = SMALL + ["--pieapp-size", "28"]


def run(script: Path, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def read_pairs(path: Path) -> dict:
    with open_pairs(path) as handle:
        data = {name: handle[name][()] for name in ("x", "y", "mos")}
        for name in ("dist_name", "ref_id", "source"):
            data[name] = decode_strings(handle[name][()])
        data["standardization"] = read_standardization(handle)
        data["attrs"] = dict(handle.attrs)
    return data


def check_against(files: list[Path], expected: list[ExpectedPair]) -> dict[str, dict]:
    """Every stored pair is exactly one expected pair (pixels, score, y), and none is missing."""
    remaining = list(expected)
    contents = {}
    for path in files:
        data = contents[path.name] = read_pairs(path)
        for i, name in enumerate(data["dist_name"]):
            match = [e for e in remaining if (e.source, e.ref_id, e.dist_name) ==
                     (data["source"][i], data["ref_id"][i], name) and abs(e.mos - data["mos"][i]) < 1e-4]
            assert match, f"{path.name}[{i}] {name} {data['mos'][i]} was not expected"
            pair = match[0]
            remaining.remove(pair)
            np.testing.assert_array_equal(data["x"][i, 0], pair.reference, err_msg=f"reference of {name}")
            np.testing.assert_array_equal(data["x"][i, 1], pair.distorted, err_msg=f"distorted of {name}")
            mean, std = data["standardization"][pair.source]
            assert data["y"][i] == pytest.approx((data["mos"][i] - mean) / std, rel=1e-5, abs=1e-6)
    assert not remaining, f"missing pairs: {[e.dist_name for e in remaining]}"
    return contents


def assert_disjoint_splits(train: dict, val: dict) -> None:
    assert val["ref_id"], "the validation file is empty"
    assert not set(train["ref_id"]) & set(val["ref_id"])
    assert train["attrs"]["split"] == "train" and val["attrs"]["split"] == "val"


# ----------------------------------------------------------------------------- good input


def test_pieapp_and_both_tid_versions(tmp_path: Path) -> None:
    expected, without_score = make_pieapp(tmp_path / "PieAPP_dataset")
    expected += make_tid(tmp_path / "tid2008", "tid2008", distortions=1)
    expected += make_tid(tmp_path / "tid2013", "tid2013")
    out = tmp_path / "out"
    result = run(PIEAPP_TID, "--pieapp", tmp_path / "PieAPP_dataset", "--tid2008", tmp_path / "tid2008",
                 "--tid2013", tmp_path / "tid2013", "--out", out, "--val-ratio", "0.25", *PIEAPP_SMALL)
    assert result.returncode == 0, result.stderr
    contents = check_against([out / "data_train.h5", out / "data_val.h5"], expected)
    train, val = contents["data_train.h5"], contents["data_val.h5"]
    assert len(train["y"]) + len(val["y"]) == 12 + 4 * 2 + 4 * 4 == len(expected)
    assert without_score == 4 and "4 label rows without any preference skipped" in result.stdout
    assert_disjoint_splits(train, val)
    assert train["standardization"] == {"tid2008": (4.47, 1.30), "tid2013": (4.47, 1.30),
                                        "pieapp": (0.47, 0.26)}
    # the same photograph of both TID versions is on one side of the split
    for data in (train, val):
        tid_refs = {ref.split("/")[1] for ref in data["ref_id"] if ref.startswith("tid")}
        other = val if data is train else train
        assert not tid_refs & {ref.split("/")[1] for ref in other["ref_id"] if ref.startswith("tid")}
    assert not (out / "data_skipped_pairs.txt").exists()
    for line in ("train  pieapp", "val    ", "mos mean"):
        assert line in result.stdout


@pytest.mark.parametrize("naming", PIPAL_NAMINGS)
def test_pipal_folder_namings(tmp_path: Path, naming: str) -> None:
    expected = make_pipal(tmp_path / "pipal", naming)
    out = tmp_path / "out"
    result = run(PIPAL, "--pipal", tmp_path / "pipal", "--out", out, *SMALL)
    assert result.returncode == 0, result.stderr
    contents = check_against([out / "pipal_train.h5", out / "pipal_val.h5"], expected)
    assert_disjoint_splits(contents["pipal_train.h5"], contents["pipal_val.h5"])
    assert len(contents["pipal_val.h5"]["y"]) == 3  # one of five references
    assert contents["pipal_train.h5"]["standardization"] == {"pipal": (1449.05, 121.35)}


def test_pipal_intensity_copies_and_determinism(tmp_path: Path) -> None:
    expected = make_pipal(tmp_path / "pipal", references=4, per_reference=2)
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        result = run(PIPAL, "--pipal", tmp_path / "pipal", "--out", out, "--intensity-copies", "2",
                     "--seed", "3", *SMALL)
        assert result.returncode == 0, result.stderr
    first, second = ([read_pairs(out / name) for name in ("pipal_train.h5", "pipal_val.h5")] for out in outs)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a["x"], b["x"])
        assert a["dist_name"] == b["dist_name"]
    assert sum(len(d["y"]) for d in first) == 3 * len(expected)
    by_name = {e.dist_name: e for e in expected}
    copies = 0
    for data in first:
        for i, name in enumerate(data["dist_name"]):
            base, _, tag = name.partition("#L")
            pair = by_name[base]
            assert data["mos"][i] == pytest.approx(pair.mos)
            if not tag:
                continue
            copy = copies % 2
            copies += 1
            factor = preparation.lightness_factor(3, base, copy)
            assert 0.3 <= factor <= 1.5 and tag == f"{factor:.3f}"
            np.testing.assert_array_equal(data["x"][i, 0], images.scale_lightness(pair.reference, factor))
            np.testing.assert_array_equal(data["x"][i, 1], images.scale_lightness(pair.distorted, factor))
    assert copies == 2 * len(expected)


# ----------------------------------------------------------------------------- bad input


def _tid(tmp: Path) -> list[str]:
    make_tid(tmp / "tid2013", "tid2013")
    return ["--tid2013", str(tmp / "tid2013"), *SMALL]


def _pieapp(tmp: Path) -> list[str]:
    make_pieapp(tmp / "PieAPP_dataset")
    return ["--pieapp", str(tmp / "PieAPP_dataset"), *PIEAPP_SMALL]


def _pipal(tmp: Path) -> list[str]:
    make_pipal(tmp / "pipal")
    return ["--pipal", str(tmp / "pipal"), *SMALL]


def _edit_line(path: Path, number: int, edit) -> None:
    """Replace line ``number`` (1-based) of a label file by ``edit(old_line)``."""
    lines = path.read_text().splitlines()
    lines[number - 1] = edit(lines[number - 1])
    path.write_text("\n".join(lines) + "\n")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


PIEAPP_REF_2 = "PieAPP_dataset/distorted_images/train/ref_2"
BAD_INPUT: dict[str, tuple] = {}


def bad_input(case: str, script: Path, file_named: str, words: str):
    """Register a layout builder whose run must fail with a line naming ``file_named`` and ``words``."""
    def register(build):
        BAD_INPUT[case] = (script, build, file_named, words)
        return build
    return register


@bad_input("missing dataset folder", PIEAPP_TID, "nowhere", "folder not found")
def _missing_folder(t: Path) -> list[str]:
    return ["--tid2013", str(t / "nowhere")]


@bad_input("missing sub-folder", PIPAL, "pipal", "no Train_Label folder")
def _missing_subfolder(t: Path) -> list[str]:
    args = _pipal(t)
    shutil.rmtree(t / "pipal/Train_Label")
    return args


@bad_input("no dataset named", PIEAPP_TID, "", "--pieapp")
def _no_dataset(t: Path) -> list[str]:
    return []


@bad_input("validation ratio out of range", PIPAL, "", "--val-ratio")
def _bad_ratio(t: Path) -> list[str]:
    return _pipal(t) + ["--val-ratio", "1"]


@bad_input("two copies of an image, even with --skip-bad", PIPAL, "A0001_00_00.bmp", "occurs 2 times")
def _duplicate_copies(t: Path) -> list[str]:
    args = _pipal(t)
    shutil.copytree(t / "pipal/Train_Dis", t / "pipal/Distortion_1")
    return args + ["--skip-bad"]


@bad_input("PieAPP size over the canvas", PIEAPP_TID, "--pieapp-size 40", "canvas")
def _pieapp_over_canvas(t: Path) -> list[str]:
    return _pieapp(t) + ["--pieapp-size", "40"]


def _without(layout, relative: str):
    """A builder of ``layout`` (``_tid``, ``_pieapp``, ``_pipal``) that then deletes the file ``relative``."""
    def build(t: Path) -> list[str]:
        args = layout(t)
        (t / relative).unlink()
        return args
    return build


bad_input("TID label names a missing image", PIEAPP_TID, "mos_with_names.txt:5",
          "i02_01_1.bmp not found")(_without(_tid, "tid2013/distorted_images/i02_01_1.bmp"))
bad_input("PieAPP label names a missing image", PIEAPP_TID, "ref_2_pairwise_labels.csv:3",
          "not found")(_without(_pieapp, f"{PIEAPP_REF_2}/distort_2_blur_2.png"))
bad_input("TID reference with no image", PIEAPP_TID, "mos_with_names.txt:9",
          "reference image I14")(_without(_tid, "tid2013/reference_images/I14.BMP"))
bad_input("PIPAL reference with no image", PIPAL, "A0002.txt:1",
          "reference image A0002")(_without(_pipal, "pipal/Train_Ref/A0002.bmp"))


@bad_input("TID score not a number", PIEAPP_TID, "mos_with_names.txt:11", "'3,9' is not a number")
def _tid_bad_score(t: Path) -> list[str]:
    args = _tid(t)
    _edit_line(t / "tid2013/mos_with_names.txt", 11, lambda line: "3,9 " + line.split()[1])
    return args


@bad_input("PieAPP score not a number", PIEAPP_TID, "ref_4_pairwise_labels.csv:5", "'high' is not a number")
def _pieapp_bad_score(t: Path) -> list[str]:
    args = _pieapp(t)
    _edit_line(t / "PieAPP_dataset/labels/val/ref_4_pairwise_labels.csv", 5,
               lambda line: line.rsplit(",", 1)[0] + ", high")
    return args


@bad_input("PIPAL score not a number", PIPAL, "A0003.txt:2", "'n/a' is not a number")
def _pipal_bad_score(t: Path) -> list[str]:
    args = _pipal(t)
    _edit_line(t / "pipal/Train_Label/A0003.txt", 2, lambda line: line.split(",")[0] + ",n/a")
    return args


@bad_input("unreadable image", PIEAPP_TID, "distort_2_jpeg_1.png", "not a readable image")
def _unreadable(t: Path) -> list[str]:
    args = _pieapp(t)
    (t / PIEAPP_REF_2 / "distort_2_jpeg_1.png").write_text("<html>not found</html>")
    return args


@bad_input("truncated image", PIPAL, "A0004_01_00.bmp", "not a readable image")
def _truncated(t: Path) -> list[str]:
    args = _pipal(t)
    _truncate(t / "pipal/Train_Dis/A0004_01_00.bmp")
    return args


@bad_input("PieAPP image of the wrong size", PIEAPP_TID, "distort_2_blur_2.png", "is 28x30, expected 28x28")
def _pieapp_wrong_size(t: Path) -> list[str]:
    args = _pieapp(t)
    write_rgb(t / PIEAPP_REF_2 / "distort_2_blur_2.png", random_rgb("x", 30, 28))
    return args


@bad_input("TID image smaller than the crop", PIEAPP_TID, "i25.bmp", "smaller than the 32x32 crop")
def _tid_too_small(t: Path) -> list[str]:
    args = _tid(t)
    write_rgb(t / "tid2013/reference_images/i25.bmp", random_rgb("x", 30, 40))
    return args


@bad_input("PIPAL image not image_size", PIPAL, "A0005.bmp", "is 36x36, expected 32x32")
def _pipal_wrong_size(t: Path) -> list[str]:
    args = _pipal(t)
    write_rgb(t / "pipal/Train_Ref/A0005.bmp", random_rgb("x", 36, 36))
    return args


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path: Path, case: str) -> None:
    script, build, file_named, words = BAD_INPUT[case]
    args = build(tmp_path)
    out = tmp_path / "out"
    result = run(script, *args, "--out", out)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert file_named in lines[0] and words in lines[0], lines[0]
    assert not out.exists(), list(out.iterdir())


def test_failure_while_streaming_leaves_existing_files_alone(tmp_path: Path) -> None:
    args = _pipal(tmp_path)
    _truncate(tmp_path / "pipal/Train_Dis/A0005_02_00.bmp")
    out = tmp_path / "out"
    out.mkdir()
    (out / "pipal_train.h5").write_bytes(b"an earlier run")
    result = run(PIPAL, *args, "--out", out)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["pipal_train.h5"]
    assert (out / "pipal_train.h5").read_bytes() == b"an earlier run"


def test_skip_bad_skips_counts_and_lists(tmp_path: Path) -> None:
    expected, _ = make_pieapp(tmp_path / "PieAPP_dataset")
    expected += make_tid(tmp_path / "tid2013", "tid2013")
    bad = {"i01_01_2.bmp", "i02_02_1.bmp", "distort_2_blur_2.png", "distort_1_jpeg_1.png"}
    (tmp_path / "tid2013/distorted_images/i01_01_2.bmp").unlink()
    _edit_line(tmp_path / "tid2013/mos_with_names.txt", 7, lambda line: "x " + line.split()[1])
    _truncate(tmp_path / "PieAPP_dataset/distorted_images/train/ref_2/distort_2_blur_2.png")
    write_rgb(tmp_path / "PieAPP_dataset/distorted_images/train/ref_1/distort_1_jpeg_1.png",
              random_rgb("y", 32, 32))  # image A of two rows
    out = tmp_path / "out"
    result = run(PIEAPP_TID, "--pieapp", tmp_path / "PieAPP_dataset", "--tid2013", tmp_path / "tid2013",
                 "--out", out, "--skip-bad", *PIEAPP_SMALL)
    assert result.returncode == 0, result.stderr
    listed = (out / "data_skipped_pairs.txt").read_text().splitlines()
    assert listed[0].startswith("# 5 pairs skipped")
    assert sorted(line.split("\t")[0] for line in listed[1:]) == sorted(
        ["i01_01_2.bmp", "i02_02_1.bmp", "distort_2_blur_2.png"] + ["distort_1_jpeg_1.png"] * 2)
    assert "skipped 5 bad pairs" in result.stdout
    kept = [e for e in expected if e.dist_name.lower() not in {name.lower() for name in bad}]
    check_against([out / "data_train.h5", out / "data_val.h5"], kept)


def test_skip_bad_pipal(tmp_path: Path) -> None:
    expected = make_pipal(tmp_path / "pipal", naming="training_inp")
    (tmp_path / "pipal/Train_Ref/A0002.bmp").unlink()
    _truncate(tmp_path / "pipal/training_inp/A0004_01_00.bmp")
    out = tmp_path / "out"
    result = run(PIPAL, "--pipal", tmp_path / "pipal", "--out", out, "--skip-bad", *SMALL)
    assert result.returncode == 0, result.stderr
    listed = (out / "pipal_skipped_pairs.txt").read_text().splitlines()[1:]
    assert len(listed) == 4 and sum("reference image A0002" in line for line in listed) == 3
    assert any(line.startswith("A0004_01_00.bmp\t") and "not a readable image" in line for line in listed)
    kept = [e for e in expected if e.ref_id != "pipal/A0002" and e.dist_name != "A0004_01_00.bmp"]
    check_against([out / "pipal_train.h5", out / "pipal_val.h5"], kept)


# ----------------------------------------------------------------------------- pieces


def test_read_rgb_is_rgb_and_refuses_truncated_files(tmp_path: Path) -> None:
    rgb = random_rgb("read", 9, 7)
    for extension in ("png", "bmp"):
        path = tmp_path / f"image.{extension}"
        write_rgb(path, rgb)
        np.testing.assert_array_equal(images.read_rgb(path), rgb)
        _truncate(path)
        with pytest.raises(UserError, match=f"image.{extension}: not a readable image"):
            images.read_rgb(path)
    with pytest.raises(UserError, match="empty"):
        (tmp_path / "empty.png").write_bytes(b"")
        images.read_rgb(tmp_path / "empty.png")


def test_crop_and_pad_offsets() -> None:
    image = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    np.testing.assert_array_equal(images.center_crop(image, 3), image[1:4, 1:4])
    padded = images.center_pad(image, 8)
    np.testing.assert_array_equal(padded[1:6, 1:7], image)
    assert padded.sum() == image.astype(int).sum()
    with pytest.raises(UserError, match="smaller"):
        images.center_crop(image, 6)
    with pytest.raises(UserError, match="bigger"):
        images.center_pad(image, 5)


def test_scale_lightness_changes_lightness_only() -> None:
    rgb = random_rgb("light", 16, 16)
    assert np.abs(images.scale_lightness(rgb, 1.0).astype(int) - rgb).max() <= 1
    grey = np.full((4, 4, 3), 128, np.uint8)
    darker = images.scale_lightness(grey, 0.5)
    assert (darker < 128).all() and (darker[..., 0] == darker[..., 2]).all()
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lab_dark = cv2.cvtColor(images.scale_lightness(rgb, 0.6).astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    assert np.median(lab_dark[..., 0] / np.maximum(lab[..., 0], 1)) == pytest.approx(0.6, abs=0.03)


def test_split_groups_is_seeded_grouped_and_per_family() -> None:
    groups = [f"pipal/A{i:04d}" for i in range(50)] + [f"tid/I{i:02d}" for i in range(1, 26)]
    first = preparation.split_groups(groups, 0.2, seed=0)
    assert first == preparation.split_groups(list(reversed(groups)), 0.2, seed=0)
    assert first != preparation.split_groups(groups, 0.2, seed=1)
    assert sum(g.startswith("pipal/") for g in first) == 10 and sum(g.startswith("tid/") for g in first) == 5
    # adding another dataset does not move the others' references
    assert preparation.split_groups(groups[:50], 0.2, seed=0) == {g for g in first if g.startswith("pipal/")}
    assert preparation.split_groups(["pieapp/ref_1"], 0.2, seed=0) == frozenset()
    assert preparation.split_groups(groups, 0.0, seed=0) == frozenset()
