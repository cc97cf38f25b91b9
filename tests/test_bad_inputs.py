"""Every bad input ends in one `error:` line with exit code 2: no traceback, nothing written.

One table; each row is a script, its arguments and the start of the expected
line. Training rows run against a folder that already holds a run and pass
``--overwrite`` (or ``--resume``): the earlier run must survive byte for byte.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import error_lines, run_script, write_tiny_pairs
from real_layouts import make_pipal, write_rgb
from test_training import tiny_overrides

TRAIN = ("train_simple.py", "--config", "configs/simple_synthetic.txt")
NOT_A_FOLDER = "{file}/sub/out"  # under a plain file: no folder can be made there

CASES = [
    # (name, script and arguments, extra --set for training, expected start of the error line)
    ("image size not the data's", TRAIN, ["model.image_size=64"],
     "{train}: images are 32 x 32 px but model.image_size is 64"),
    ("zero epochs", TRAIN, ["training.epochs=0"], "--set training.epochs=0: [training] epochs: must be at least 1"),
    ("zero batch", TRAIN, ["training.batch_size=0"], "--set training.batch_size=0: [training] batch_size: must be"),
    ("drop every 0 epochs", TRAIN, ["training.drop_learning_rate_after_epochs=0"],
     "--set training.drop_learning_rate_after_epochs=0: [training] drop_learning_rate_after_epochs: must be"),
    ("negative learning rate", TRAIN, ["training.learning_rate=-0.1"],
     "--set training.learning_rate=-0.1: [training] learning_rate: must be more than 0"),
    ("infinite learning rate", TRAIN, ["training.learning_rate=1e400"],
     "--set training.learning_rate=1e400: [training] learning_rate: must be a finite number"),
    ("zero softrank temperature", TRAIN, ["loss.softrank_temperature=0.0"],
     "--set loss.softrank_temperature=0.0: [loss] softrank_temperature: must be more than 0"),
    ("validation smaller than a batch", TRAIN, ["training.batch_size=48"],
     "{val}: 40 pairs make no full batch of 48, which the learned ranker's validation loss needs"),
    ("resume after an architecture change", TRAIN + ("--resume",), ["model.dense_num=16"],
     "{run}/backup: the saved run has another [model] (dense_num differ)"),
    ("init weights are the run's own model", TRAIN, ["training.init_weights='{run}/model.keras'"],
     "{run}/model.keras: training.model_path is the input training.init_weights ({run}/model.keras)"),
    ("model path not writable", TRAIN, ["training.model_path='{file}/run/model.keras'"],
     "{file}/run/model.keras: cannot write here"),
    ("single image --figure", ("evaluation_single_image.py", "--ref", "a.png", "--distorted", "b.png",
                               "--figure", NOT_A_FOLDER + ".png"), None, "{file}/sub/out.png: cannot write here"),
    ("dataset --json", ("evaluation_dataset.py", "--data", "x.h5", "--json", NOT_A_FOLDER + ".json"), None,
     "{file}/sub/out.json: cannot write here"),
    ("dataset --csv", ("evaluation_dataset.py", "--data", "x.h5", "--csv", NOT_A_FOLDER + ".csv"), None,
     "{file}/sub/out.csv: cannot write here"),
    ("dataset --plot", ("evaluation_dataset.py", "--data", "x.h5", "--plot", NOT_A_FOLDER + ".png"), None,
     "{file}/sub/out.png: cannot write here"),
    ("ntire --out", ("evaluation_ntire.py", "--ref-dir", ".", "--dis-dir", ".", "--out", NOT_A_FOLDER + ".txt"),
     None, "{file}/sub/out.txt: cannot write here"),
    ("synthetic --out", ("prepare_dataset/create_data_synthetic.py", "--out", NOT_A_FOLDER), None,
     "{file}/sub/out/synthetic_train.h5: cannot write here"),
    ("synthetic --export-images", ("prepare_dataset/create_data_synthetic.py", "--out", "{tmp}/s",
                                   "--export-images", NOT_A_FOLDER), None,
     "{file}/sub/out/labels.txt: cannot write here"),
    ("synthetic --grid folder", ("prepare_dataset/create_data_synthetic.py", "--grid", NOT_A_FOLDER + ".png"),
     None, "{file}/sub/out.png: cannot write here"),
    ("synthetic --grid format", ("prepare_dataset/create_data_synthetic.py", "--grid", "{tmp}/x.xyz"), None,
     "{tmp}/x.xyz: --grid needs one of the extensions"),
    ("ranker test --num-tests 0", ("ranking_model/test.py", "--num-tests", "0"), None,
     "--num-tests 0: must be at least 1"),
    ("ranker test --seed -1", ("ranking_model/test.py", "--seed", "-1"), None, "--seed -1: must be 0 or more"),
    ("ranker test --temperature 0", ("ranking_model/test.py", "--temperature", "0"), None,
     "--temperature 0.0: must be a finite number above 0"),
    ("ranker train --epochs 0", ("ranking_model/train.py", "--epochs", "0", "--out", "{tmp}/r.keras"), None,
     "--epochs 0: must be at least 1"),
    ("ranker train --learning-rate nan", ("ranking_model/train.py", "--learning-rate", "nan",
                                          "--out", "{tmp}/r.keras"), None,
     "--learning-rate nan: must be a finite number above 0"),
    ("ranker train --learning-rate -1", ("ranking_model/train.py", "--learning-rate", "-1",
                                         "--out", "{tmp}/r.keras"), None,
     "--learning-rate -1.0: must be a finite number above 0"),
    ("ranker train --out", ("ranking_model/train.py", "--out", NOT_A_FOLDER + ".keras"), None,
     "{file}/sub/out.keras: cannot write here"),
    # an output never replaces an input, a link to one included; FIFOs and devices are not replaced
    ("single image --figure is --ref", ("evaluation_single_image.py", "--ref", "{ref}", "--distorted", "{dis}",
                                        "--figure", "{ref}"), None,
     "{ref}: --figure is the input --ref ({ref}); an output is never written over an input, choose another --figure"),
    ("ntire --out is a reference", ("evaluation_ntire.py", "--ref-dir", "{tmp}/Ref", "--dis-dir", "{tmp}/Dis",
                                    "--out", "{ref}"), None, "{ref}: --out is the input --ref-dir ({ref})"),
    ("dataset --csv is --labels", ("evaluation_dataset.py", "--ref-dir", "{tmp}/Ref", "--dis-dir", "{tmp}/Dis",
                                   "--labels", "{labels}", "--csv", "{labels}"), None,
     "{labels}: --csv is the input --labels ({labels})"),
    ("dataset --csv links to --labels", ("evaluation_dataset.py", "--ref-dir", "{tmp}/Ref", "--dis-dir",
                                         "{tmp}/Dis", "--labels", "{labels}", "--csv", "{tmp}/link.csv"), None,
     "{tmp}/link.csv: --csv is the input --labels ({labels})"),
    ("dataset --plot is --data", ("evaluation_dataset.py", "--data", "{data}", "--plot", "{data}"), None,
     "{data}: --plot needs one of the extensions"),
    ("dataset --json is --data", ("evaluation_dataset.py", "--data", "{data}", "--json", "{data}"), None,
     "{data}: --json is the input --data ({data})"),
    ("dataset --json and --csv one file", ("evaluation_dataset.py", "--data", "{data}", "--json", "{tmp}/r.out",
                                           "--csv", "{tmp}/r.out"), None,
     "{tmp}/r.out: --csv and --json name the same file; give each output its own"),
    ("ntire --out a FIFO", ("evaluation_ntire.py", "--ref-dir", "{tmp}/Ref", "--dis-dir", "{tmp}/Dis",
                            "--out", "{fifo}"), None,
     "{fifo}: is a FIFO, not a regular file; give a file name to write"),
    ("ntire --out /dev/full", ("evaluation_ntire.py", "--ref-dir", "{tmp}/Ref", "--dis-dir", "{tmp}/Dis",
                               "--out", "/dev/full"), None,
     "/dev/full: is a character device, not a regular file; give a file name to write"),
    # conflicting duplicate labels name both lines; damaged HDF5 bytes fail their checksum
    ("folder labels conflict", ("evaluation_dataset.py", "--ref-dir", "{tmp}/Ref", "--dis-dir", "{tmp}/Dis",
                                "--labels", "{conflict}"), None,
     "{conflict}: line 4: A0001_01_01.png is labelled 2.5, but line 2 labels it 1.5; keep one of the two lines"),
    ("PIPAL labels conflict", ("prepare_dataset/create_data_pipal.py", "--pipal", "{pipal}", "--image-size", "32",
                               "--out", "{tmp}/prepared"), None,
     "{pipal}/Train_Label/A0002.txt:4: A0001_00_00.bmp is labelled 999, but {pipal}/Train_Label/A0001.txt:1 "
     "labels it 1317.12; keep one of the two lines"),
    ("damaged HDF5 bytes", ("evaluation_dataset.py", "--data", "{damaged}"), None,
     "{damaged}: dataset mos cannot be read (its stored bytes fail their checksum); the file is damaged, "
     "prepare it again"),
]


def damage_chunk(path: Path, dataset: str, index: int = 0) -> Path:
    """Flip one stored byte of a chunk of ``dataset`` in place, as a bad disk sector or a stray write would."""
    import h5py

    with h5py.File(path, "r") as handle:
        offset = handle[dataset].id.get_chunk_info(index).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset + 3)
        byte = handle.read(1)
        handle.seek(offset + 3)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return path


def bad_input_files(tmp_path: Path) -> dict[str, Path]:
    """A challenge folder, its labels (one copy with a conflicting repeat), a FIFO, a damaged file, PIPAL."""
    rng = np.random.default_rng(0)
    ref = tmp_path / "Ref" / "A0001.png"
    write_rgb(ref, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    for name in ("A0001_01_01.png", "A0001_01_02.png"):
        write_rgb(tmp_path / "Dis" / name, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    labels = tmp_path / "labels.txt"
    labels.write_text("A0001_01_01.png,1.5\nA0001_01_02.png,2.5\n")
    conflict = tmp_path / "conflict.txt"
    conflict.write_text("name,score\nA0001_01_01.png,1.5\nA0001_01_02.png,2.5\nA0001_01_01.png,2.5\n")
    (tmp_path / "link.csv").symlink_to(labels)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pipal = tmp_path / "pipal"
    make_pipal(pipal)
    with open(pipal / "Train_Label" / "A0002.txt", "a") as handle:
        handle.write("A0001_00_00.bmp,999\n")
    data = write_tiny_pairs(tmp_path / "pairs.h5", 8)
    damaged = damage_chunk(write_tiny_pairs(tmp_path / "damaged.h5", 8), "mos")
    return {"ref": ref, "dis": tmp_path / "Dis" / "A0001_01_01.png", "labels": labels, "conflict": conflict,
            "fifo": fifo, "pipal": pipal, "data": data, "damaged": damaged}


def earlier_run(folder: Path) -> dict[Path, bytes]:
    """A folder that looks like a finished run whose saved [model] is the tiny config's."""
    from asna.core.config import load_config
    from asna.training.run_state import RunState, write_state
    from test_training import TINY

    overrides = [item for item in TINY if item.startswith("model.")]
    model = load_config("configs/simple_synthetic.txt", overrides).model.as_dict()
    (folder / "backup").mkdir(parents=True)
    (folder / "backup" / "epoch_0001.weights.h5").write_bytes(b"weights")
    write_state(folder / "backup", RunState(1, 0.5, "epoch_0001.weights.h5", [], {"model": model}))
    for name, content in (("model.keras", b"best model"), ("model.json", b"{}"), ("log.csv", b"epoch\n0\n"),
                          ("config.txt", b"[model]\n")):
        (folder / name).write_bytes(content)
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("name, command, sets, expected", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, tiny_data, name, command, sets, expected):
    plain_file = tmp_path / "plain_file"
    plain_file.write_text("not a folder")
    run = tmp_path / "run"
    names = {"file": plain_file, "tmp": tmp_path, "run": run, "train": tiny_data[0], "val": tiny_data[1],
             **bad_input_files(tmp_path)}
    inputs = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file() and not path.is_symlink()
              and path.name != "fifo"}
    arguments = [part.format(**names) for part in command]
    if sets is not None:
        before = earlier_run(run)
        overrides = tiny_overrides(tiny_data, run, *[item.format(**names) for item in sets])
        arguments += overrides + ([] if "--resume" in arguments else ["--overwrite"])
    listing = sorted(tmp_path.rglob("*"))
    result = run_script(*arguments)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert error_lines(result) == [error_lines(result)[0]] and error_lines(result)[0].startswith(
        "error: " + expected.format(**names)), error_lines(result)
    assert sorted(tmp_path.rglob("*")) == listing  # nothing written, nothing removed
    assert {path: path.read_bytes() for path in inputs} == inputs  # and nothing rewritten
    assert (tmp_path / "fifo").is_fifo() and (tmp_path / "link.csv").is_symlink()
    if sets is not None:
        assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == before


def test_ranker_rerun_with_other_settings_is_refused(tmp_path):
    """An interrupted ranker run's saved state is not resumed with another recipe, nor overwritten silently."""
    from asna.training.run_state import RunState, write_state

    backup = tmp_path / ".r.backup"
    backup.mkdir()
    (backup / "epoch_0001.weights.h5").write_bytes(b"weights")
    write_state(backup, RunState(1, 0.5, "epoch_0001.weights.h5", [], {"recipe": {"length": 8}}))
    result = run_script("ranking_model/train.py", "--num-data", "200", "--epochs", "2", "--out",
                        str(tmp_path / "r.keras"))
    assert result.returncode == 2
    assert error_lines(result)[-1].startswith(f"error: {backup}: an interrupted run with other settings (")
    assert error_lines(result)[-1].endswith("is saved here; rerun with its settings to resume it or pass --overwrite")
    assert (backup / "epoch_0001.weights.h5").read_bytes() == b"weights"


def test_api_arguments_of_the_wrong_type_are_one_line(tmp_path):
    """The public entry points refuse a wrong type with a one-line UserError, before any model loads."""
    import asna
    from asna.api.metric import Metric
    from asna.core.errors import UserError

    cases = [(lambda: asna.load_metric(models=123), "models=123: give a .keras file or folder (str or path), "
                                                    "a list of them, or None"),
             (lambda: asna.load_metric(models=[tmp_path, 7]), "models: got 7 (int); give a file or folder path"),
             (lambda: asna.load_metric(tta=5), "tta=5: choose one of"),
             (lambda: asna.load_metric(batch_size=True), "batch_size=True: must be a whole number of at least 1"),
             (lambda: asna.load_metric(scale_source=3), "scale_source=3: give a source name"),
             (lambda: asna.PerceptualLoss(models=123), "models=123: give a .keras file or folder"),
             (lambda: asna.PerceptualLoss(precision=None), "precision=None: choose one of"),
             (lambda: Metric.score_folder(None, 1, tmp_path), "ref_dir: got 1 (int); give a file or folder path"),
             (lambda: Metric.score(None, 123, 123), "reference: got int; give a file path or an image array")]
    for call, message in cases:
        with pytest.raises(UserError) as raised:
            call()
        assert str(raised.value).startswith(message) and "\n" not in str(raised.value), str(raised.value)
