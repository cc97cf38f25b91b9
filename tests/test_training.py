"""The training scripts as a user runs them: configs, checkpoints, logs, resume, errors, two workers."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import REPO_ROOT, error_lines, run_script

TINY = ["model.image_size=32", "model.nfs=[4, 4, 8, 8, 8, 8, 8, 4, 4, 8]", "model.dense_num=8",
        "model.tile_size=16", "model.lstm_units=4", "training.epochs=2", "training.steps_per_epoch=3"]


def tiny_overrides(tiny_data, run_folder, *extra):
    train, val = tiny_data
    overrides = TINY + [f"data.train='{train}'", f"data.val='{val}'",
                        f"training.model_path='{run_folder / 'model.keras'}'", *extra]
    return [item for override in overrides for item in ("--set", override)]


@pytest.mark.parametrize("network", ["simple", "bn", "attention", "tiled"])
def test_each_script_trains_and_leaves_a_loadable_model(tmp_path, tiny_data, network):
    run = tmp_path / network
    result = run_script(f"train_{network}.py", "--config", f"configs/{network}_synthetic.txt",
                        *tiny_overrides(tiny_data, run))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    import asna.models  # noqa: F401  (registers the custom layers)

    model = keras.models.load_model(run / "model.keras", compile=False)
    pairs = np.zeros((2, 32, 32, 3), np.uint8)
    assert model.predict([pairs, pairs], verbose=0).shape == (2, 1)
    log = pd.read_csv(run / "log.csv")
    assert list(log["epoch"]) == [0, 1]
    assert {"loss", "val_loss", "val_srcc", "val_plcc", "val_main_score"} <= set(log.columns)
    assert (run / "training_curves.png").stat().st_size > 1000
    assert "network = " in (run / "config.txt").read_text()
    info = json.loads((run / "model.json").read_text())
    assert info["standardization"] == {"synthetic": [3.0, 1.0]} and info["image_size"] == 32
    assert "validation on 40 pairs: SRCC" in result.stdout


def test_existing_run_is_kept_without_resume_or_overwrite(tmp_path, tiny_data):
    run = tmp_path / "kept"
    run.mkdir()
    (run / "model.keras").write_bytes(b"the user's model")
    result = run_script("train_simple.py", "--config", "configs/simple_synthetic.txt",
                        *tiny_overrides(tiny_data, run))
    assert result.returncode == 2
    assert error_lines(result) == [f"error: {run}: a run is already there; pass --resume to continue it "
                                   f"or --overwrite to start again (or set training.model_path)"]
    assert (run / "model.keras").read_bytes() == b"the user's model"


def test_config_for_another_network_names_the_right_script(tmp_path, tiny_data):
    result = run_script("train_simple.py", "--config", "configs/attention_synthetic.txt",
                        *tiny_overrides(tiny_data, tmp_path))
    assert result.returncode == 2
    assert error_lines(result) == ["error: configs/attention_synthetic.txt: [model] network is 'attention'; "
                                   "train it with train_attention.py (this is train_simple.py)"]


def test_batch_not_multiple_of_the_ranker_length_is_refused(tmp_path, tiny_data):
    result = run_script("train_simple.py", "--config", "configs/simple_synthetic.txt",
                        *tiny_overrides(tiny_data, tmp_path / "b", "training.batch_size=12"))
    assert result.returncode == 2
    assert "is not a multiple of the learned ranker's length 16" in error_lines(result)[0]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for item in sockets:
        item.bind(("localhost", 0))
    ports = [item.getsockname()[1] for item in sockets]
    for item in sockets:
        item.close()
    return ports


@pytest.mark.slow
def test_two_local_workers_train_with_multiworker_mirrored_strategy(tmp_path, tiny_data):
    from asna.training.distributed import check_keras_internals

    check_keras_internals(keras.Sequential())  # names any private Keras attribute the patch lost
    run = tmp_path / "multiworker"
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    command = [sys.executable, str(REPO_ROOT / "train_simple.py"), "--config", "configs/simple_synthetic.txt",
               *tiny_overrides(tiny_data, run, "training.distribute='multiworker'", "loss.ranker='softrank'")]
    workers = []
    for index in range(2):
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
                       "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(command, cwd=REPO_ROOT, env=environment, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-4000:]
    assert "2 replica(s)" in outputs[0]
    assert (run / "model.keras").is_file()
    assert (run / "worker_1" / "model.keras").is_file()
    assert list(pd.read_csv(run / "log.csv")["epoch"]) == [0, 1]
