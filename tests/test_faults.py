"""Faults injected into real, tiny runs: kill -9 during checkpoint writes, NaN, SIGTERM, a full disk.

Each test runs the real scripts on 32 px data and checks what a user finds
afterwards: a loadable best model, a resumable run, a log with one row per
finished epoch, no stray process and no partial file.
"""

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import REPO_ROOT, error_lines, run_script
from test_training import tiny_overrides

TRAIN = ["train_simple.py", "--config", "configs/simple_synthetic.txt"]
ENVIRONMENT = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


def train(tiny_data, run: Path, *extra: str, flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return run_script(*TRAIN, *tiny_overrides(tiny_data, run, "training.steps_per_epoch=2",
                                              "training.deterministic=True", *extra), *flags)


def losses(run: Path) -> list[tuple[int, float, float]]:
    log = pd.read_csv(run / "log.csv")
    return list(zip(log["epoch"], log["loss"], log["val_loss"]))


def load(path: Path) -> keras.Model:
    import asna.models  # noqa: F401  (registers the custom layers)

    return keras.models.load_model(path, compile=False)


def partial_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob(".*") if ".partial" in path.name]


def saved_epochs(folder: Path) -> int:
    state = folder / "backup" / "state.json"
    return json.loads(state.read_text())["epochs"] if state.exists() else 0


def kill_during_a_write(command: list[str], folder: Path, after_epochs: int, name: str = ".*.partial*",
                        timeout: float = 120) -> bool:
    """Start ``command``; once ``after_epochs`` epochs are saved, SIGKILL it the moment a
    temporary file matching ``name`` appears in ``folder`` or its ``backup/``. Returns whether it
    was killed that way (False: it finished first, the writes too quick to be seen)."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=ENVIRONMENT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if folder.exists() and saved_epochs(folder) >= after_epochs and \
                    (list(folder.glob(name)) or list(folder.glob(f"backup/{name}"))):
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.001)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return False


def test_kill_during_checkpoint_writes_then_nan_then_resume(tmp_path, tiny_data):
    """kill -9 while checkpoints are written: first while the first epoch's resume state is written
    (the best model, sidecar, log and config already complete), then in the resumed run's second
    epoch. Each time the best model loads and the command a user types next (``--resume``, as the
    folder holds a model) is accepted; the run ends with exactly the uninterrupted run's log
    (deterministic). Then a NaN on resume changes nothing saved, and a resume with a sane learning
    rate finishes."""
    reference = tmp_path / "uninterrupted"
    finished = train(tiny_data, reference, "training.epochs=3")
    assert finished.returncode == 0, finished.stderr[-3000:]

    run = tmp_path / "killed"
    command = [sys.executable, str(REPO_ROOT / TRAIN[0]), *TRAIN[1:],
               *tiny_overrides(tiny_data, run, "training.steps_per_epoch=2", "training.deterministic=True",
                               "training.epochs=3")]
    first = kill_during_a_write(command, run, 0, name=".epoch_0001.partial.weights.h5")
    if first:  # what the first epoch's save left: all but the resume state
        assert {"model.keras", "model.json", "config.txt", "log.csv"} <= {path.name for path in run.iterdir()}
        assert saved_epochs(run) == 0 and load(run / "model.keras").count_params() > 0
    second = kill_during_a_write(command + ["--resume"], run, 1)
    assert first or second  # a kill needs a temporary file seen; at least one write must be caught
    assert load(run / "model.keras").count_params() > 0
    assert not list(run.glob("*.keras.*"))
    resumed = train(tiny_data, run, "training.epochs=3", flags=("--resume",))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert losses(run) == losses(reference)
    assert not partial_files(run)

    best = (run / "model.keras").read_bytes()
    log = (run / "log.csv").read_text()
    diverged = train(tiny_data, run, "training.epochs=5", "training.learning_rate=1e6", flags=("--resume",))
    assert diverged.returncode == 2
    message = error_lines(diverged)
    assert len(message) == 1
    assert re.match(r"error: training stopped: (the training loss|val_loss) became nan in epoch 4(, batch \d)?; "
                    r"epoch 3, the last finite one, is saved; continue it with --resume and a lower "
                    r"training.learning_rate$", message[0]), message
    assert (run / "model.keras").read_bytes() == best and (run / "log.csv").read_text() == log
    again = train(tiny_data, run, "training.epochs=4", "training.learning_rate=1e-4", flags=("--resume",))
    assert again.returncode == 0, again.stderr[-3000:]
    assert [row[0] for row in losses(run)] == [0, 1, 2, 3]
    assert all(np.isfinite([row[1:] for row in losses(run)]).ravel())


def test_nan_in_the_first_epoch_leaves_no_model(tmp_path, tiny_data):
    run = tmp_path / "nan"
    result = train(tiny_data, run, "training.epochs=2", "training.learning_rate=1e6")
    assert result.returncode == 2
    assert error_lines(result)[-1].endswith("no epoch finished with finite losses, so no model was saved; "
                                            "start again with a lower training.learning_rate")
    assert len(error_lines(result)) == 1
    assert not run.exists()  # no model, sidecar, config, log or backup that could look like a run


@pytest.mark.parametrize("readers", [1, 2])
def test_resumed_input_order_is_the_uninterrupted_one(tiny_data, readers):
    """The pipeline started after k batches yields exactly what the uninterrupted one yields then."""
    from asna.data.pipeline import make_dataset

    def batches(skip: int, count: int) -> list[np.ndarray]:
        data = make_dataset(tiny_data[0], 16, training=True, seed=3, skip_batches=skip, read_block=8,
                            shuffle_buffer=32, readers=readers)
        return [y.numpy() for _, y in data.take(count)]

    whole = batches(0, 15)  # 96 pairs = 6 batches an epoch: crosses two epoch boundaries
    for skip in (1, 6, 8):
        resumed = batches(skip, 15 - skip)
        np.testing.assert_array_equal(np.concatenate(resumed), np.concatenate(whole[skip:]))


def preparation(out: Path, *arguments: str, **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "prepare_dataset/create_data_synthetic.py"),
                             "--out", str(out), "--image-size", "64", "--workers", "2", "--no-full", *arguments],
                            cwd=REPO_ROOT, env=ENVIRONMENT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **options)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGKILL])
def test_preparation_stopped_leaves_no_process_and_no_partial_file(tmp_path, signal_number):
    out = tmp_path / "synthetic"
    process = preparation(out, "--crops-per-image", "6")  # long enough to be stopped half-way
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(out.glob(".*.partial")):
        time.sleep(0.02)
    time.sleep(1.0)  # the workers are distorting now
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 2
    second = run_script("prepare_dataset/create_data_synthetic.py", "--out", str(out), "--image-size", "64")
    assert second.returncode == 2
    assert error_lines(second)[-1] == (f"error: {out / 'synthetic_train.h5'}: another run is writing this file "
                                       f"now; wait for it to finish or choose another output folder")
    assert process.poll() is None and list(out.glob(".*.partial"))
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=60)
    if signal_number == signal.SIGTERM:
        assert process.returncode == 143 and stderr.strip().splitlines()[-1] == "terminated", stderr[-3000:]
    else:
        assert process.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(int(pid)) for pid in children):
        time.sleep(0.1)
    assert not any(alive(int(pid)) for pid in children)
    assert list(out.iterdir()) == []


def test_full_disk_during_preparation_is_one_line_and_keeps_nothing(tmp_path):
    out = tmp_path / "full"

    def limit_file_size():  # a file cannot grow past 300 kB: writes fail as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    process = preparation(out, preexec_fn=limit_file_size)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    lines = [line for line in stderr.splitlines() if line.strip() and "distorting" not in line]
    assert lines == [f"error: {out}/synthetic_val.h5: cannot write the file (File too large); nothing was kept"] \
        or lines == [f"error: {out}/synthetic_train.h5: cannot write the file (File too large); nothing was kept"]
    assert list(out.iterdir()) == []


def test_ranker_killed_then_rerun_keeps_its_log_and_best(tmp_path):
    """kill -9 after some ranker epochs; the same command again goes on and keeps the earlier log rows."""
    out = tmp_path / "r.keras"
    command = [sys.executable, str(REPO_ROOT / "ranking_model/train.py"), "--architecture", "pairwise",
               "--num-data", "20000", "--epochs", "5", "--batch-size", "256", "--out", str(out)]
    backup = tmp_path / ".r.backup"
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=ENVIRONMENT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        state = backup / "state.json"
        if state.exists() and json.loads(state.read_text())["epochs"] >= 2:
            process.kill()
        time.sleep(0.005)
    process.wait()
    assert process.returncode == -signal.SIGKILL and not out.exists()
    saved = json.loads((backup / "state.json").read_text())
    first_rows = (tmp_path / "r.log.csv").read_text().splitlines()
    again = subprocess.run(command, cwd=REPO_ROOT, env=ENVIRONMENT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    log = pd.read_csv(tmp_path / "r.log.csv")
    assert list(log["epoch"]) == [0, 1, 2, 3, 4]
    assert (tmp_path / "r.log.csv").read_text().splitlines()[:len(first_rows)] == first_rows
    assert saved["best"] == pytest.approx(log["val_loss"][:saved["epochs"]].min())
    from asna.ranker.models import load_ranker

    assert load_ranker(str(out)).count_params() > 0 and not backup.exists()
