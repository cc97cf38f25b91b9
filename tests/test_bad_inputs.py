"""Every bad input ends in one `error:` line with exit code 2: no traceback, nothing written.

One table; each row is a script, its arguments and the start of the expected
line. Training rows run against a folder that already holds a run and pass
``--overwrite`` (or ``--resume``): the earlier run must survive byte for byte.
"""

from pathlib import Path

import pytest

from conftest import error_lines, run_script
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
]


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
    names = {"file": plain_file, "tmp": tmp_path, "run": run, "train": tiny_data[0], "val": tiny_data[1]}
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
