"""Per-distortion-type figures: where a pair's type comes from, the numbers, the table, JSON and plot.

No TensorFlow here: the figures are computed from per-pair values, as the
report computes them from the scores it already has; the full path through
``evaluation_dataset.py`` with a real model is in ``test_evaluation.py``.
"""

from __future__ import annotations

import json

import cv2
import h5py
import numpy as np
import pytest

from asna.data.layout import LAYOUT_VERSION, PairWriter, open_pairs, read_dist_types, type_from_name
from asna.evaluation import per_type, report
from real_layouts import make_pipal, make_tid


def typed_pairs() -> tuple[np.ndarray, dict[str, np.ndarray], per_type.PairTypes]:
    """Four types: PSNR perfect on type 1 and reversed on type 3; type 10 has 2 pairs; type 4 constant labels."""
    labels = [4.0, 3.0, 2.0, 1.0, 4.0, 3.0, 2.0, 1.0, 3.0, 1.0, 2.0, 2.0, 2.0]
    keys = ["1"] * 4 + ["3"] * 4 + ["10"] * 2 + ["4"] * 3
    psnr = [40.0, 30.0, 20.0, 10.0, 10.0, 20.0, 30.0, 40.0, 30.0, 20.0, 30.0, 20.0, 10.0]
    gmsd = [0.0, 0.1, 0.2, 0.3, 0.0, 0.2, 0.1, 0.3, 0.1, 0.2, 0.1, 0.2, 0.3]  # a distortion: reported negated
    model = [2.0, 1.0, 3.0, 0.0, 3.0, 3.0, 3.0, 3.0, 1.0, 0.0, 1.0, 2.0, 3.0]
    types = per_type.PairTypes(keys, per_type.folder_types(["A_1_1.bmp", "A_3_1.bmp", "A_10_1.bmp", "A_4_1.bmp"],
                                                           "kadid").names)
    return np.array(labels), {"model": np.array(model), "psnr": np.array(psnr), "gmsd": np.array(gmsd)}, types


def test_type_from_the_name():
    assert type_from_name("A0001_10_03.bmp") == "10"
    assert type_from_name("i01_01_1.BMP") == "1"  # TID: leading zeros dropped, any case
    assert type_from_name("motorcycle_left_03_05.png") == "3"  # the reference's name may hold '_'
    assert type_from_name("A0001_00_00.bmp#L0.734") == "0"  # an intensity copy keeps its pair's type
    for name in ("A0001.bmp", "A0001_10.bmp", "distort_1_jpeg_2.png", "A0001_10_03"):
        assert type_from_name(name) == "", name


def test_folder_names_give_types_and_names_or_one_line():
    types = per_type.folder_types(["A0001_10_03.bmp", "A0002_01_05.png"], "kadid")
    assert types.keys == ["10", "1"] and types.names == {"10": "JPEG", "1": "GBLUR"}
    assert per_type.folder_types(["A0001_10_03.bmp"]).names == {"10": None}  # ids only without --type-names
    odd = per_type.folder_types(["A0001_10_03.bmp", "A0001.bmp", "B.png"], "kadid")
    assert not odd.any and odd.keys == ["", "", ""]
    assert odd.note == ("no per-type figures: A0001.bmp follows none of <ref>_<type>_<level>.<ext>, "
                        "<ref>_<named type>_<name>.<ext> or <ref>.<named type>.<level>.<ext> "
                        "(nor do 1 other names)")
    assert per_type.folder_types(["i01_08_1.bmp"], "tid2013").names == {"8": "Gaussian blur"}


def test_mixed_sources_are_typed_per_source_and_untyped_pairs_said():
    types = per_type.stored_types(["8", "8", "", "24"], ["tid2008", "pipal", "pieapp", "tid2013"])
    assert types.keys == ["tid2008/8", "pipal/8", "", "tid2013/24"]
    assert types.names == {"tid2008/8": "Gaussian blur", "pipal/8": None,
                           "tid2013/24": "sparse sampling and reconstruction"}
    assert types.note == "1 pairs without a distortion type (source pieapp) are left out of the per-type figures"
    none = per_type.stored_types(["", ""], ["pieapp", "pieapp"])
    assert not none.any and none.note == "no per-type figures: the file stores no distortion types (source pieapp)"
    assert per_type.type_order(["b/2", "a/10", "a/2", "", "a/x"]) == ["a/2", "a/10", "a/x", "b/2"]


def test_per_type_srcc_real_numbers_null_and_the_json_shape(tmp_path):
    truth, predictions, types = typed_pairs()
    blocks = report.build_report(truth, predictions, None, types)
    assert list(blocks) == ["model", "psnr", "gmsd", "by_type"]  # the method blocks stay as they were
    by_type = blocks["by_type"]
    assert list(by_type) == ["1", "3", "4", "10"]
    assert by_type["1"]["psnr"] == pytest.approx(1.0) and by_type["3"]["psnr"] == pytest.approx(-1.0)
    assert by_type["1"]["gmsd"] == pytest.approx(1.0)  # -GMSD, as in the pooled block
    assert by_type["1"]["model"] == pytest.approx(0.4)  # ranks 3,2,4,1 against 4,3,2,1: 1 - 6 * 6 / (4 * 15)
    assert np.isnan(by_type["3"]["model"])  # constant model on the type
    assert all(np.isnan(by_type["10"][m]) for m in ("model", "psnr"))  # 2 pairs: under MIN_PAIRS
    assert all(np.isnan(by_type["4"][m]) for m in ("model", "psnr"))  # constant labels
    written = json.loads(report.write_json(tmp_path / "r.json", blocks).read_text())
    assert written["by_type"]["1"] == {"name": "GBLUR", "pairs": 4, "model": pytest.approx(0.4),
                                       "psnr": pytest.approx(1.0), "gmsd": pytest.approx(1.0)}
    assert written["by_type"]["10"] == {"name": "JPEG", "pairs": 2, "model": None, "psnr": None, "gmsd": None}
    assert written["model"]["srcc"] == pytest.approx(blocks["model"]["srcc"])


def test_per_type_table_marks_the_best_of_each_row_and_names_where_the_model_trails():
    truth, predictions, types = typed_pairs()
    text = report.format_types(report.build_report(truth, predictions, None, types), types)
    lines = text.splitlines()
    assert lines[0] == "SRCC per distortion type (4 types)"
    assert lines[1].split() == ["type", "pairs", "model", "psnr", "-gmsd"]
    assert lines[2].split() == ["1", "GBLUR", "4", "0.4000", "[1.0000]", "[1.0000]"]  # ties both marked
    assert lines[3].split() == ["3", "Motion", "Blur", "4", "n/a", "-1.0000", "[0.8000]"]
    assert lines[5].split() == ["10", "JPEG", "2", "n/a", "n/a", "n/a"]
    assert lines[-2] == "model above psnr on 0 of 1, -gmsd on 0 of 1 types"  # only type 1 has both figures
    assert lines[-1] == "model below the best baseline on 1 of 1 types: 1 GBLUR (0.400; psnr 1.000)"


def test_type_plot_is_a_png(tmp_path):
    truth, predictions, types = typed_pairs()
    path = report.write_type_plot(tmp_path / "types.png", report.build_report(truth, predictions, None, types),
                                  "tiny")
    image = cv2.imread(str(path))
    assert image is not None and image.shape[1] > 600 and image.shape[0] > 300
    assert not list(tmp_path.glob(".*partial*"))


def write_pairs(path, names, sources, types=None, size=16):
    rng = np.random.default_rng(0)
    standardization = {source: (3.0, 1.0) for source in set(sources)}
    with PairWriter(path, size, standardization, "val", 0) as writer:
        for index, (name, source) in enumerate(zip(names, sources)):
            image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            extra = {} if types is None else {"dist_type": types[index]}
            writer.append(image, image, float(index), name, f"r{index}", source, **extra)
    return path


def test_layout_2_stores_the_type_and_version_1_files_fall_back_to_the_name(tmp_path):
    stored = write_pairs(tmp_path / "v2.h5", ["A0001_10_03.bmp", "p.png", "x_02_01.png"],
                         ["synthetic", "synthetic", "pieapp"], types=["10", "", None])
    with open_pairs(stored) as handle:
        assert handle.attrs["layout_version"] == LAYOUT_VERSION == 2
        assert read_dist_types(handle) == ["10", "", ""]  # None: from the name, but PieAPP has no types
    guessed = write_pairs(tmp_path / "named.h5", ["A0001_07_03.bmp", "i02_24_1.bmp"], ["synthetic", "tid2013"])
    with open_pairs(guessed) as handle:
        assert read_dist_types(handle) == ["7", "24"]
    old = write_pairs(tmp_path / "v1.h5", ["A0001_10_03.bmp", "A0002_01_01.bmp", "x_02_01.png"],
                      ["synthetic", "synthetic", "pieapp"], types=["99", "99", "99"])
    with h5py.File(old, "a") as handle:  # what a version 1 writer left: no dist_type
        del handle["dist_type"]
        handle.attrs["layout_version"] = 1
    with open_pairs(old) as handle:
        assert read_dist_types(handle) == ["10", "1", ""]
    data = report.hdf5_set(old)
    assert data.types.keys == ["synthetic/10", "synthetic/1", ""]
    assert data.types.names == {"synthetic/10": "JPEG", "synthetic/1": "GBLUR"}


def test_tid_and_pipal_readers_store_their_types(tmp_path):
    from asna.data import pipal, tid
    from asna.data.preparation import Problems, write_prepared

    make_tid(tmp_path / "tid2013", "tid2013", distortions=2, levels=2)
    make_pipal(tmp_path / "pipal", references=2, per_reference=3)
    tid_pairs = tid.collect_pairs(tmp_path / "tid2013", "tid2013", 32, Problems(False))
    assert sorted({pair.dist_type for pair in tid_pairs.pairs}) == ["1", "2"]
    pipal_pairs = pipal.collect_pairs(tmp_path / "pipal", 32, Problems(False))
    assert sorted({pair.dist_type for pair in pipal_pairs.pairs}) == ["0", "1", "2"]
    prepared = write_prepared([tid_pairs, pipal_pairs], tmp_path / "out", {"train": "t.h5", "val": "v.h5"}, 32,
                              {"tid2013": (4.5, 1.3), "pipal": (1449.0, 121.0)}, 0.0, 0, Problems(False), "skip.txt")
    with open_pairs(prepared.paths["train"]) as handle:
        names = [n.decode() for n in handle["dist_name"][:]]
        stored = dict(zip(names, read_dist_types(handle)))
    assert stored["A0001_02_00.bmp"] == "2" and stored[next(n for n in names if n.lower() == "i01_02_1.bmp")] == "2"


def test_the_built_in_set_stores_its_kadid_types(tmp_path):
    from asna.data.synthetic import create_synthetic

    create_synthetic(tmp_path, image_size=32, crops_per_image=1, seed=0, type_ids=(10, 21), xtest=False,
                     train_crops_per_image=1)
    data = report.hdf5_set(tmp_path / "synthetic_test.h5")
    assert set(data.types.keys) == {"10", "21"} and data.types.names == {"10": "JPEG", "21": "Pixelate"}
    assert [key for key, name in zip(data.types.keys, data.names) if type_from_name(name) != key] == []


def test_demo_reads_every_set_of_its_metrics_and_its_verdict_skips_the_type_blocks():
    from asna.studies.demo import set_reports, verdict

    test = {"model": {"srcc": 0.8}, "psnr": {"srcc": 0.6}, "by_type": {"1": {"name": None, "pairs": 5}}}
    new = {**test, "split": "test", "sets": ["test", "xtest", "full"], "xtest": {"model": {"srcc": 0.7}},
           "full": {"model": {"srcc": 0.9}, "psnr": {"srcc": 0.95}}, "challenge_folder": {}}
    reports = set_reports(new)
    assert list(reports) == ["test", "xtest", "full"] and reports["full"]["psnr"]["srcc"] == 0.95
    assert list(set_reports({**test, "split": "test", "xtest": test})) == ["test", "xtest"]  # before "sets"
    assert verdict(reports).endswith("-> the network does NOT beat PSNR on full")
    assert "by_type" not in verdict(reports).lower()
