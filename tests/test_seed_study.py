"""The demo-over-seeds study: its figures, and that finished runs are kept, not trained again."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from asna.studies.recipe import DemoRecipe
from asna.studies.seed_study import run_study


def finished_run(folder, test_srcc: float, xtest_srcc: float, val_srccs: list[float], val_losses: list[float]):
    """A run folder as demo.py leaves it: the parts of metrics.json and log.csv the study reads."""
    folder.mkdir(parents=True)
    blocks = {"model": {"srcc": test_srcc, "plcc": test_srcc - 0.02},
              "psnr": {"srcc": 0.60, "plcc": 0.5}, "gmsd": {"srcc": 0.80, "plcc": 0.7}}
    xtest = {"model": {"srcc": xtest_srcc, "plcc": xtest_srcc - 0.01},
             "psnr": {"srcc": 0.65, "plcc": 0.5}, "gmsd": {"srcc": 0.81, "plcc": 0.7}}
    (folder / "metrics.json").write_text(json.dumps({**blocks, "split": "test", "xtest": xtest}))
    pd.DataFrame({"epoch": range(len(val_losses)), "val_loss": val_losses, "val_srcc": val_srccs}).to_csv(
        folder / "log.csv", index=False)
    (folder / "minutes.txt").write_text("4.00\n")


def test_finished_runs_are_summarised_without_training(tmp_path):
    out = tmp_path / "study"
    finished_run(out / "float32_seed0", 0.80, 0.82, [0.5, 0.7, 0.6], [1.0, 0.5, 0.6])
    finished_run(out / "float32_seed1", 0.84, 0.86, [0.4, 0.8], [1.0, 0.9])
    summary = run_study(DemoRecipe(str(tmp_path / "no_data_needed"), "configs/attention_synthetic.txt", 64, 4),
                        str(out), 2, ["float32"], [], "python benchmarks/demo_seeds.py --seeds 2")
    assert not (tmp_path / "no_data_needed").exists()  # nothing was built or trained
    table = pd.read_csv(out / "results.csv")
    assert list(table["seed"]) == [0, 1]
    assert list(table["val_srcc"]) == [0.7, 0.8]  # the epoch kept: lowest val_loss
    text = summary.read_text()
    # mean 0.82, sample sd of (0.80, 0.84) = 0.0283
    assert "| float32 | 2 | 0.7500 ± 0.0707 | 0.8200 ± 0.0283 |" in text
    assert "| -GMSD | 0.8000 | 0.8100 |" in text and "| PSNR | 0.6000 | 0.6500 |" in text


def test_zero_seeds_is_refused(tmp_path):
    from asna.core.errors import UserError

    with pytest.raises(UserError, match="--seeds 0 --precisions float32: need at least one of each"):
        run_study(DemoRecipe(str(tmp_path), "configs/attention_synthetic.txt", 64, 4), str(tmp_path / "out"), 0,
                  ["float32"], [], "")


def typed_report(model: float, per_type: tuple[float, float]) -> dict:
    """A set's report with a by_type block, as the demo writes it (GMSD's type-10 figure undefined)."""
    return {"model": {"srcc": model, "plcc": model - 0.02}, "psnr": {"srcc": 0.6, "plcc": 0.5},
            "gmsd": {"srcc": 0.8, "plcc": 0.7},
            "by_type": {"1": {"name": "GBLUR", "pairs": 40, "model": per_type[0], "psnr": 0.5, "gmsd": 0.9},
                        "10": {"name": "JPEG", "pairs": 40, "model": per_type[1], "psnr": 0.7, "gmsd": None}}}


def test_every_set_and_its_types_are_summarised_as_mean_and_sd(tmp_path):
    out = tmp_path / "study"
    for seed, shift in enumerate((0.0, 0.04)):
        finished_run(out / f"float32_seed{seed}", 0.8, 0.8, [0.5], [1.0])
        metrics = {**typed_report(0.80 + shift, (0.90 + shift, 0.60 + shift)), "split": "test",
                   "sets": ["test", "xtest", "full"], "xtest": typed_report(0.7, (0.5, 0.5)),
                   "full": typed_report(0.75 + shift, (0.70 + shift, 0.80))}
        (out / f"float32_seed{seed}" / "metrics.json").write_text(json.dumps(metrics))
    summary = run_study(DemoRecipe(str(tmp_path / "unused"), "configs/attention_synthetic.txt", 64, 4), str(out), 2,
                        ["float32"], [], "python benchmarks/demo_seeds.py --seeds 2").read_text()
    assert list(pd.read_csv(out / "results.csv").columns) == [
        "precision", "seed", "val_srcc", "test_srcc", "test_plcc", "xtest_srcc", "xtest_plcc", "full_srcc",
        "full_plcc", "minutes"]
    assert ("| precision | seeds | val SRCC | test SRCC | test PLCC | xtest SRCC | xtest PLCC | full SRCC | "
            "full PLCC | minutes per run |") in summary
    assert "| float32 | 2 | 0.5000 ± 0.0000 | 0.8200 ± 0.0283 |" in summary
    assert "| method | test SRCC | xtest SRCC | full SRCC |" in summary
    assert "| -GMSD | 0.8000 | 0.8000 | 0.8000 |" in summary
    test_part = summary.split("## test: SRCC per distortion type")[1].split("## xtest")[0]
    assert "mean ± sd over seeds (2 run(s) in float32)" in test_part
    assert "| type | pairs | network, float32 | PSNR | -GMSD |" in test_part
    assert "| 1 GBLUR | 40 | **0.9200 ± 0.0283** | 0.5000 | 0.9000 |" in test_part
    assert "| 10 JPEG | 40 | 0.6200 ± 0.0283 | **0.7000** | n/a |" in test_part
    full_part = summary.split("## full: SRCC per distortion type")[1]
    assert "| 1 GBLUR | 40 | 0.7200 ± 0.0283 | 0.5000 | **0.9000** |" in full_part
    assert "| 10 JPEG | 40 | **0.8000 ± 0.0000** | 0.7000 | n/a |" in full_part
    for name in ("test", "xtest", "full"):
        assert (out / f"types_{name}.png").stat().st_size > 0


def test_runs_from_before_the_per_type_reports_say_so(tmp_path):
    out = tmp_path / "study"
    finished_run(out / "float32_seed0", 0.80, 0.82, [0.5], [1.0])
    text = run_study(DemoRecipe(str(tmp_path / "unused"), "configs/attention_synthetic.txt", 64, 4), str(out), 1,
                     ["float32"], [], "").read_text()
    assert text.count("No per-type figures in these runs") == 2 and not list(out.glob("types_*.png"))


def test_a_killed_seed_continues_its_run_and_a_finished_one_is_not_trained_again(tmp_path, tiny_data):
    from asna.core.config import load_config
    from asna.studies.demo import train_or_continue

    train, val = tiny_data
    model = tmp_path / "auto_seed0" / "model.keras"

    def config(epochs: int):
        return load_config("configs/attention_synthetic.txt", [
            "model.image_size=32", "model.nfs=[4, 4, 8, 8, 8, 8, 8, 4, 4, 8]", "model.dense_num=8",
            f"training.epochs={epochs}", "training.steps_per_epoch=2", f"data.train='{train}'",
            f"data.val='{val}'", f"training.model_path='{model}'"])

    train_or_continue(config(1), keep_run=True)  # a run stopped after its first epoch, as a kill leaves it
    assert train_or_continue(config(2), keep_run=True) == model
    log = pd.read_csv(model.parent / "log.csv")
    assert list(log["epoch"]) == [0, 1]  # continued at the second epoch, not started again
    written = model.stat().st_mtime_ns, (model.parent / "log.csv").read_text()
    assert train_or_continue(config(2), keep_run=True) == model  # finished: only evaluated again
    assert (model.stat().st_mtime_ns, (model.parent / "log.csv").read_text()) == written


def test_runs_before_the_full_set_leave_its_column_empty(tmp_path):
    out = tmp_path / "study"
    finished_run(out / "float32_seed0", 0.80, 0.82, [0.5], [1.0])  # test and xtest only
    finished_run(out / "float32_seed1", 0.84, 0.86, [0.5], [1.0])
    metrics = json.loads((out / "float32_seed1" / "metrics.json").read_text())
    metrics.update(sets=["test", "xtest", "full"], full=typed_report(0.7, (0.6, 0.8)))
    (out / "float32_seed1" / "metrics.json").write_text(json.dumps(metrics))
    summary = run_study(DemoRecipe(str(tmp_path / "unused"), "configs/attention_synthetic.txt", 64, 4), str(out), 2,
                        ["float32"], [], "").read_text()
    table = pd.read_csv(out / "results.csv")
    assert table["full_srcc"].isna().tolist() == [True, False]
    assert "| float32 | 2 | 0.5000 ± 0.0000 | 0.8200 ± 0.0283 | 0.8000 ± 0.0283 | 0.8400 ± 0.0283 | " \
           "0.8300 ± 0.0283 | 0.7000 ± 0.0000 | 0.6800 ± 0.0000 |" in summary
    assert "| method | test SRCC | xtest SRCC | full SRCC |" in summary


# ---- runs side by side (--jobs): child processes, their logs, failures and Ctrl-C

TESTS = Path(__file__).resolve().parent
TINY = ["model.nfs=[4, 4, 8, 8, 8, 8, 8, 4, 4, 8]", "model.dense_num=8", "training.epochs=1",
        "training.steps_per_epoch=2"]


def test_the_shared_options_make_one_recipe_and_a_child_run_gets_it_whole(tmp_path):
    import argparse

    from asna.studies.recipe import add_demo_arguments
    from asna.studies.seed_study import child_run

    parser = argparse.ArgumentParser()
    add_demo_arguments(parser)
    assert DemoRecipe.from_arguments(parser.parse_args([])) == DemoRecipe(
        "data/synthetic", "configs/attention_synthetic.txt", 64, 4)
    recipe = DemoRecipe.from_arguments(parser.parse_args([
        "--data-dir", "d", "--config", "c.txt", "--image-size", "32", "--crops-per-image", "2",
        "--train-crops-per-image", "8", "--procedural", "3", "--live-dev", "none", "--content-labels", "0.5"]))
    assert recipe == DemoRecipe("d", "c.txt", 32, 2, train_crops_per_image=8, procedural=3, live_dev="none",
                                content_weight=0.5)
    run_dir = tmp_path / "float32_seed0"
    spec = json.loads(child_run(recipe, run_dir, ["training.seed=0"]).command[-1])
    assert DemoRecipe(**spec.pop("recipe")) == recipe  # as asna.studies.seed_run reads it
    assert spec == {"run_dir": str(run_dir), "overrides": ["training.seed=0"], "parent": os.getpid()}


@pytest.fixture(scope="module")
def small_built_in(tmp_path_factory) -> Path:
    """The built-in set at 32 px, one crop a photograph, two distortion types, small full-resolution folders."""
    from asna.data import synthetic
    from seed_run_small import SMALL_TYPES, small_sizes

    folder = tmp_path_factory.mktemp("built_in")
    with pytest.MonkeyPatch.context() as patch:
        small_sizes(patch)
        synthetic.create_synthetic(folder, image_size=32, crops_per_image=1, seed=0, train_crops_per_image=1,
                                   type_ids=SMALL_TYPES, workers=2, full=True)
    return folder


def small_recipe(data_dir: Path) -> DemoRecipe:
    """The recipe of :func:`small_built_in`'s set: 32 px, one crop a photograph, training ones too."""
    return DemoRecipe(str(data_dir), "configs/attention_synthetic.txt", 32, 1, train_crops_per_image=1)


@pytest.fixture
def small_children(small_built_in, monkeypatch) -> Path:
    """Child runs through ``tests/seed_run_small.py``, at the same small sizes; the data folder."""
    from asna.studies import seed_study
    from seed_run_small import small_sizes

    small_sizes(monkeypatch)  # the study's own check of the data
    monkeypatch.setattr(seed_study, "CHILD_MODULE", "seed_run_small")
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    return small_built_in


@pytest.mark.slow
def test_runs_side_by_side_train_in_child_processes_and_are_summarised_as_before(tmp_path, small_children,
                                                                                  capsys):
    out = tmp_path / "study"
    summary = run_study(small_recipe(small_children), str(out), 2, ["float32"], TINY, "study", jobs=2)
    printed = capsys.readouterr().out
    assert "using the existing" in printed  # the set was there: nothing rebuilt
    for seed in (0, 1):
        run = out / f"float32_seed{seed}"
        assert (run / "metrics.json").is_file() and float((run / "minutes.txt").read_text()) > 0
        log = (run / "console.log").read_text()
        assert "training.seed=" in log and "demo finished in" in log  # the child's own output, in its folder
        assert "reused (options match)" in log and "distorting" not in log
        for cached in ("synthetic_test.h5.json", "full_test.json"):  # computed once, before the runs started
            assert f"classic metrics' scores from {small_children / '.classic_scores' / cached}" in log
        assert f"started float32_seed{seed} (pid " in printed and f"finished float32_seed{seed} in " in printed
    assert "2 run(s), 2 at a time, 1 TensorFlow thread(s) each" in printed  # this machine's 2 CPUs, halved
    table = pd.read_csv(out / "results.csv")
    assert list(table["seed"]) == [0, 1] and table["test_srcc"].notna().all()
    assert "| float32 | 2 |" in summary.read_text()


def test_a_failing_child_run_ends_the_study_in_one_line_naming_its_folder_and_log(tmp_path, small_children):
    from asna.core.errors import UserError

    out = tmp_path / "study"
    with pytest.raises(UserError) as raised:
        run_study(small_recipe(small_children), str(out), 2, ["float32"], [*TINY, "training.no_such_key=1"],
                  "study", jobs=2)
    run = out / "float32_seed0"
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{run}: the run failed (exit code 2: error: --set training.no_such_key=1: "
                              "[training] no_such_key: unknown key")
    assert message.endswith(f"); its output: {run / 'console.log'}; failed too: float32_seed1")
    assert not (out / "results.csv").exists()


def fake_child(run_dir: Path, code: str):
    """A child "run" that only runs ``code`` (in the test's working folder)."""
    from asna.studies.seed_study import ChildRun

    return ChildRun(run_dir.name, run_dir, (sys.executable, "-c", code))


def test_the_study_waits_for_the_other_runs_before_naming_the_failed_one(tmp_path, capsys):
    from asna.core.errors import UserError
    from asna.studies.seed_study import run_side_by_side

    done, ran = tmp_path / "b_done", tmp_path / "c_ran"
    failing = fake_child(tmp_path / "a", "import sys; print('error: bad input', file=sys.stderr); sys.exit(2)")
    slow = fake_child(tmp_path / "b", f"import time, pathlib; time.sleep(2); pathlib.Path({str(done)!r}).touch()")
    queued = fake_child(tmp_path / "c", f"import pathlib; pathlib.Path({str(ran)!r}).touch()")
    with pytest.raises(UserError) as raised:
        run_side_by_side([failing, slow, queued], 2)
    assert str(raised.value) == (f"{tmp_path / 'a'}: the run failed (exit code 2: error: bad input); its output: "
                                 f"{tmp_path / 'a' / 'console.log'}; not started: c")
    assert done.exists() and not ran.exists()  # the other run finished, none started after the failure
    printed = capsys.readouterr().out
    assert "FAILED a after" in printed and "finished b in" in printed


def test_ctrl_c_stops_every_child_run(tmp_path, monkeypatch, capsys):
    from asna.studies import seed_study

    children = [fake_child(tmp_path / name, "import os, time; print('pid', os.getpid(), flush=True); time.sleep(120)")
                for name in ("a", "b")]

    def interrupt_once_both_run():
        deadline = time.monotonic() + 30
        while not all(child.log.is_file() and "pid " in child.log.read_text() for child in children):
            assert time.monotonic() < deadline, "the children did not start"
            time.sleep(0.1)
        raise KeyboardInterrupt

    monkeypatch.setattr(seed_study, "_pause", interrupt_once_both_run)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        seed_study.run_side_by_side(children, 2)
    assert time.monotonic() - started < 30
    for child in children:
        pid = int(child.log.read_text().split("pid ")[1].split()[0])
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # stopped and reaped
    assert "stopping a, b; the same command continues them" in capsys.readouterr().err
