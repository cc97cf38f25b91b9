"""Faults injected into real, tiny runs: kill -9 during checkpoint writes, NaN, SIGTERM, a full disk.

Each test runs the real scripts on 32 px data and checks what a user finds
afterwards: a loadable best model, a resumable run, a log with one row per
finished epoch, no stray process and no partial file.
"""

import errno
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


def signal_once(command: list[str], ready, signal_number: int, timeout: float = 120) -> int | None:
    """Start ``command`` and send it ``signal_number`` the moment ``ready()`` is true; its exit code,
    or None when it finished (or the time ran out) before that was seen."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=ENVIRONMENT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                process.send_signal(signal_number)
                return process.wait(timeout=60)
            time.sleep(0.001)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return None


def kill_during_a_write(command: list[str], folder: Path, after_epochs: int, name: str = ".*.partial*",
                        timeout: float = 120) -> bool:
    """Start ``command``; once ``after_epochs`` epochs are saved, SIGKILL it the moment a
    temporary file matching ``name`` appears in ``folder`` or its ``backup/``. Returns whether it
    was killed that way (False: it finished first, the writes too quick to be seen)."""
    def writing() -> bool:
        return folder.exists() and saved_epochs(folder) >= after_epochs and \
            bool(list(folder.glob(name)) or list(folder.glob(f"backup/{name}")))

    return signal_once(command, writing, signal.SIGKILL, timeout) is not None


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
    first = kill_during_a_write(command, run, 0, name=".epoch_0001.partial-*.weights.h5")
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


def signal_when(command: list[str], path: Path, signal_number: int, timeout: float = 120) -> int | None:
    """Start ``command`` and send it ``signal_number`` the moment ``path`` appears; its exit code,
    or None when it finished before ``path`` was seen."""
    return signal_once(command, path.exists, signal_number, timeout)


def test_overwrite_keeps_the_earlier_run_until_the_new_one_saved_an_epoch(tmp_path, tiny_data):
    """``--overwrite`` moves the earlier run to ``.earlier_run/``. Ctrl-C, SIGTERM or a NaN before the
    first epoch is saved put it back byte for byte; after kill -9 the next start does; a run that
    saves its first epoch drops it."""
    from test_bad_inputs import earlier_run

    run = tmp_path / "run"
    before = earlier_run(run)
    aside = run / ".earlier_run"

    def files() -> dict[Path, bytes]:
        return {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}

    command = [sys.executable, str(REPO_ROOT / TRAIN[0]), *TRAIN[1:],
               *tiny_overrides(tiny_data, run, "training.epochs=2"), "--overwrite"]
    for signal_number, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        assert signal_when(command, aside, signal_number) == code
        assert files() == before and not aside.exists()

    diverged = train(tiny_data, run, "training.epochs=2", "training.learning_rate=1e6", flags=("--overwrite",))
    assert diverged.returncode == 2 and "the earlier run is back in place" in diverged.stdout
    assert files() == before and not aside.exists()

    assert signal_when(command, aside / "backup", signal.SIGKILL) == -signal.SIGKILL
    assert (aside / "backup").is_dir()  # killed in the window: the earlier run is (partly) aside
    plain = train(tiny_data, run, "training.epochs=2")  # the next start puts it back, then refuses as always
    assert plain.returncode == 2, plain.stderr[-3000:]
    assert "the earlier run is back in place" in plain.stdout
    assert error_lines(plain) == [f"error: {run}: a run is already there; pass --resume to continue it "
                                  f"or --overwrite to start again (or set training.model_path)"]
    assert files() == before and not aside.exists()

    finished = train(tiny_data, run, "training.epochs=1", flags=("--overwrite",))
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert saved_epochs(run) == 1 and not aside.exists() and not partial_files(run)
    assert (run / "model.keras").read_bytes() != before[run / "model.keras"]


def test_earlier_run_is_put_back_from_any_point_of_a_cut_short_restore(tmp_path):
    """Each rename of moving aside and putting back may be the last before a kill: settling again finishes."""
    from asna.training.earlier_run import run_entries, set_aside, settle_earlier_run
    from asna.training.run_state import RunFiles, new_run_state, write_state
    from test_bad_inputs import earlier_run

    run = tmp_path / "run"
    before = earlier_run(run)
    files = RunFiles(str(run / "model.keras"))
    moves = len([entry for entry in run_entries(files) if entry.exists()])
    for cut in range(moves + 1):
        set_aside(files)
        write_state(files.backup, new_run_state({}))  # the new run's first commit: 0 epochs
        (run / "model.keras").write_bytes(b"new run, first epoch not saved")
        (run / "tensorboard").mkdir()
        real_replace, done = os.replace, []

        def replace_then_die(source, target):
            if len(done) == cut:
                raise KeyboardInterrupt  # a kill after ``cut`` renames of the restore
            done.append(target)
            real_replace(source, target)

        os.replace = replace_then_die
        try:
            settle_earlier_run(files)
        except KeyboardInterrupt:
            pass
        finally:
            os.replace = real_replace
        assert settle_earlier_run(files) in ("restored", None)
        assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == before
        assert not (run / ".earlier_run").exists() and not (run / "tensorboard").exists()
    set_aside(files)
    write_state(files.backup, new_run_state({}))
    (files.backup / "epoch_0001.weights.h5").write_bytes(b"new")
    from asna.training.run_state import RunState

    write_state(files.backup, RunState(1, 0.1, "epoch_0001.weights.h5", [], {}))
    assert settle_earlier_run(files) == "dropped" and not (run / ".earlier_run").exists()


def test_outputs_are_written_through_links_and_never_over_fifos_or_devices(tmp_path):
    from asna.core.errors import UserError
    from asna.core.paths import atomic_write

    target = tmp_path / "target.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    atomic_write(link, lambda temporary: temporary.write_text("new"))
    assert link.is_symlink() and target.read_text() == "new"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO"), (Path("/dev/null"), "a character device"),
                       (Path("/dev/full"), "a character device"), (tmp_path, "a folder")):
        with pytest.raises(UserError, match=f"^{path}: is {kind}, not a regular file; give a file name to write$"):
            atomic_write(path, lambda temporary: temporary.write_text("x"))
    assert fifo.is_fifo() and Path("/dev/null").is_char_device()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fifo", "link.txt", "target.txt"]


def test_two_writers_of_one_file_at_once_each_publish_a_whole_file(tmp_path):
    """Two writers (threads here; seed runs side by side are processes) write one file at the same
    time, each in two halves with the other's halves between them. Each writes under a name of its
    own, so both finish and the file is one writer's whole text; under one shared temporary name the
    second would truncate the first's file and the first's rename would take the second's file away."""
    import threading

    from asna.core.paths import atomic_write, temporary_name, temporary_pattern

    out = tmp_path / "cache.weights.h5"
    assert temporary_name(out) != temporary_name(out)
    assert temporary_name(out).match(temporary_pattern(out)) and temporary_name(out).name.endswith(".weights.h5")
    both_half_written = threading.Barrier(2)
    errors = []

    def writer(text: str) -> None:
        def write(temporary: Path) -> None:
            with open(temporary, "w") as handle:
                handle.write(text[:50])
                handle.flush()
                both_half_written.wait(timeout=10)
                handle.write(text[50:])
        try:
            atomic_write(out, write)
        except Exception as error:  # noqa: BLE001 - the test reports whatever a writer met
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(letter * 100,)) for letter in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and out.read_text() in ("a" * 100, "b" * 100)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cache.weights.h5"]


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EDQUOT, errno.EIO])
def test_a_failed_output_write_is_one_line_and_keeps_the_earlier_file(tmp_path, monkeypatch, number):
    from asna.core.errors import UserError
    from asna.evaluation.folders import write_scores

    out = tmp_path / "output.txt"
    out.write_text("earlier\n")

    def fail(self, *arguments, **options):
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(Path, "write_text", fail)
    with pytest.raises(UserError) as raised:
        write_scores(out, ["a.png"], np.array([1.0]))
    assert str(raised.value) == f"{out}: cannot write the file ({os.strerror(number)}); the earlier file is kept"
    monkeypatch.undo()
    assert out.read_text() == "earlier\n" and sorted(tmp_path.iterdir()) == [out]


def test_full_disk_in_asna_score_folder_is_one_line_exit_2_and_keeps_the_earlier_file(tmp_path):
    """The console command on a full disk: the write of --out fails with ENOSPC (simulated in the
    command's own process), which must be one ``error:`` line, exit 2, the earlier output intact."""
    from asna.models import build_model
    from real_layouts import write_rgb
    from tiny_models import SMALL, write_sidecar

    model = tmp_path / "model.keras"
    build_model(SMALL).save(model)
    write_sidecar(model)
    rng = np.random.default_rng(0)
    write_rgb(tmp_path / "Ref" / "A0001.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    write_rgb(tmp_path / "Dis" / "A0001_01_01.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    out = tmp_path / "scores.txt"
    out.write_text("earlier\n")
    program = ("import errno, os, pathlib, sys\n"
               "def full(self, *a, **k):\n"
               "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))\n"
               "pathlib.Path.write_text = full\n"
               "sys.argv[0] = 'asna-score-folder'\n"
               "from asna.api.console import score_folder\n"
               "score_folder()\n")
    result = subprocess.run([sys.executable, "-c", program, "--ref-dir", str(tmp_path / "Ref"), "--dis-dir",
                             str(tmp_path / "Dis"), "--out", str(out), "--models", str(model)],
                            cwd=REPO_ROOT, env=ENVIRONMENT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert error_lines(result) == [f"error: {out}: cannot write the file (No space left on device); "
                                   f"the earlier file is kept"]
    assert out.read_text() == "earlier\n" and not list(tmp_path.glob(".*partial*"))


def test_an_os_error_that_escapes_a_writer_is_one_line(capsys):
    from asna.core.errors import run_cli

    def main():
        raise OSError(errno.ENOSPC, "No space left on device", "/data/out.h5")

    with pytest.raises(SystemExit) as exit_info:
        run_cli(main)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: /data/out.h5: cannot write the file (No space left on device)\n"


def test_damaged_image_bytes_are_one_line_in_training_and_scoring_and_old_files_still_read(tmp_path):
    """A flipped byte in a pair's chunk fails its Fletcher-32 sum wherever the pair is read; files
    written before checksums existed (no filter) are read as before."""
    import h5py
    import tensorflow as tf

    from asna.core.errors import UserError, carried_user_error
    from asna.data.pipeline import file_info, make_dataset
    from asna.evaluation.report import hdf5_set
    from conftest import write_tiny_pairs
    from test_bad_inputs import damage_chunk

    sound = write_tiny_pairs(tmp_path / "sound.h5", 8)
    with h5py.File(sound, "r") as handle:
        assert all(handle[name].fletcher32 for name in ("x", "y", "mos"))
    damaged = damage_chunk(write_tiny_pairs(tmp_path / "damaged.h5", 8), "x", 5)
    expected = f"{damaged}: dataset x cannot be read (its stored bytes fail their checksum); the file is " \
               f"damaged, prepare it again"
    with pytest.raises(UserError, match=re.escape(expected)):
        list(hdf5_set(damaged).batches(4))
    with pytest.raises(tf.errors.OpError) as raised:
        list(make_dataset(damaged, 4, training=False))
    assert carried_user_error(raised.value) == expected

    old = tmp_path / "old.h5"  # the same pairs without any filter, as files before checksums were
    with h5py.File(sound, "r") as source, h5py.File(old, "w") as copy:
        for name, dataset in source.items():
            copy.create_dataset(name, data=dataset[:], chunks=dataset.chunks, maxshape=dataset.maxshape)
        copy.attrs.update(source.attrs)
    with h5py.File(old, "r") as handle:
        assert not handle["x"].fletcher32
    assert np.array_equal(file_info(old).y, file_info(sound).y)
    batches = [[part.numpy() for part in tf.nest.flatten(batch)] for batch in make_dataset(old, 4, training=False)]
    expected_batches = [[part.numpy() for part in tf.nest.flatten(batch)]
                        for batch in make_dataset(sound, 4, training=False)]
    assert len(batches) == 2 and all(np.array_equal(a, b) for x, y in zip(batches, expected_batches)
                                     for a, b in zip(x, y))
