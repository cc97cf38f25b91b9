"""kill -9 at random instants: one tiny deterministic run killed again and again over its whole life.

A training run (and, with fewer kills, a ranker run) is started as a user starts
it, killed with SIGKILL after a seeded random delay, and continued with the
command a user would type next, over and over. The delays are drawn from the
uninterrupted run's own timeline, measured from the lines it prints: start-up,
the training and validation of an epoch, the writes of an epoch's save, the
end of the run. After every kill the best model must load and the folder must
accept the next command; at the end the log must equal the uninterrupted run's,
row for row and bit for bit, and no temporary file may be left.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import REPO_ROOT, error_lines, run_script
from test_training import tiny_overrides

ENVIRONMENT = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
EPOCHS = 4
TRAINING_KILLS = 11
RANKER_KILLS = 4
SEED = 20260


class Watched:
    """A script run as a subprocess, its output lines timestamped (seconds from its start) as they come."""

    def __init__(self, command: list[str]):
        self.command = command
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=ENVIRONMENT, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: list[tuple[float, str]] = []
        self.ended: float | None = None
        self.killed_at: float | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append((time.monotonic() - self.started, line.rstrip("\n")))

    def moments(self, pattern: str) -> list[float]:
        regex = re.compile(pattern)
        return [moment for moment, line in list(self.lines) if regex.search(line)]

    def moment(self, pattern: str, count: int = 1, timeout: float = 300) -> float | None:
        """When the ``count``-th line matching ``pattern`` came, waiting for it; None if the script ended
        first (or hung past ``timeout``, when it is killed)."""
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                self.process.kill()
            ended = self.process.poll() is not None
            if ended:
                self._reader.join(30)
            found = self.moments(pattern)
            if len(found) >= count:
                return found[count - 1]
            if ended:
                return None
            time.sleep(0.002)

    def kill_at(self, seconds: float, bound: tuple[str, int] | None = None) -> bool:
        """SIGKILL ``seconds`` after the start, or at once when the ``bound`` line (pattern, count) comes
        first, so a process faster than the timeline is still killed in the phase aimed at. Returns
        whether it was killed (False: it ended before)."""
        while self.process.poll() is None and (remaining := self.started + seconds - time.monotonic()) > 0:
            if bound is not None and len(self.moments(bound[0])) >= bound[1]:
                break
            time.sleep(min(remaining, 0.002))
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.killed_at = time.monotonic() - self.started
        return self.finish() == -signal.SIGKILL

    def finish(self, timeout: float = 600) -> int:
        self.process.wait(timeout)
        if self.ended is None:
            self.ended = time.monotonic() - self.started
        self._reader.join(30)
        return self.process.returncode

    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)


@dataclass
class Kill:
    """One planned kill and what it found."""

    kind: str  # what the delay aims at
    command: str  # how the killed process was started: "new", "--resume" or "same"
    anchor: str  # the line the delay counts from, or "start"
    delay: float
    killed: bool = False
    landed: str = ""  # where the kill fell, from the lines printed before it
    temporaries: list[str] = field(default_factory=list)  # temporary files it left
    epochs: int = 0  # epochs saved afterwards


def temporary_files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob(".*") if ".partial" in path.name)


def load(path: Path) -> keras.Model:
    import asna.models  # noqa: F401  (registers the custom layers)

    return keras.models.load_model(path, compile=False)


def same_weights(first: keras.Model, second: keras.Model) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(first.get_weights(), second.get_weights(), strict=True))


def report(kills: list[Kill]) -> str:
    return "\n".join(f"{index + 1:2d}. {kill.kind:<28} {kill.command:<9} +{kill.delay:6.3f}s after "
                     f"{kill.anchor:<18} -> {'killed' if kill.killed else 'ended'}: "
                     f"{kill.landed:<22} saved {kill.epochs}  {' '.join(kill.temporaries)}"
                     for index, kill in enumerate(kills))


# ---- training runs -------------------------------------------------------------------------------------

def training_command(tiny_data, run: Path, flag: str) -> list[str]:
    return [sys.executable, str(REPO_ROOT / "train_simple.py"), "--config", "configs/simple_synthetic.txt",
            *tiny_overrides(tiny_data, run, "training.steps_per_epoch=2", "training.deterministic=True",
                            f"training.epochs={EPOCHS}", "training.precision=float32"),
            *([flag] if flag != "new" else [])]


EPOCH_LINE = r"^Epoch {}/" + str(EPOCHS) + "$"
VALIDATION_LINE = r"^  validation on \d+ pairs"
SUMMARY_LINE = r"^\d+/\d+ - \d"  # Keras' line after an epoch's callbacks, so after its save


@dataclass
class Timeline:
    """The uninterrupted run's phases, in seconds: what the random delays are drawn from."""

    start_up: float  # start to the first epoch line
    training: list[float]  # epoch line to validation line, per epoch (the first includes tracing)
    writes: list[float]  # validation line to the line after the save, per epoch
    ending: float  # the last epoch's line after its save to the process's exit

    @classmethod
    def of_training(cls, watched: Watched) -> Timeline:
        epochs = [watched.moments(EPOCH_LINE.format(epoch))[0] for epoch in range(1, EPOCHS + 1)]
        validations, summaries = watched.moments(VALIDATION_LINE), watched.moments(SUMMARY_LINE)
        assert len(validations) == len(summaries) == EPOCHS, watched.output()[-3000:]
        return cls(epochs[0], [v - e for e, v in zip(epochs, validations)],
                   [s - v for v, s in zip(validations, summaries)], watched.ended - summaries[-1])


def saved(run: Path) -> int:
    state = run / "backup" / "state.json"
    return json.loads(state.read_text())["epochs"] if state.exists() else 0


def plan_training_kill(rng: random.Random, kind: str, done: int, timeline: Timeline) -> dict:
    """Where to count the delay from (``anchor`` line, its ``count``-th), the ``delay``, and the line
    that ends the phase aimed at (``bound``), for a kill aimed at ``kind`` in a process that starts
    with ``done`` epochs saved. A kill aimed inside an epoch picks the process's first or second,
    never one whose save would finish the run (the last kill's part)."""
    room = EPOCHS - 1 - done  # epochs this process may save without finishing the run
    nth = rng.choice([1, 2]) if room >= 2 and not kind.startswith("first epoch") else 1
    kind = {"first epoch": "training and validation", "first epoch's writes": "writes"}.get(kind, kind)
    if kind == "start-up":
        return dict(anchor="", count=0, delay=rng.uniform(0.05, 0.8) * timeline.start_up,
                    bound=(EPOCH_LINE.format(done + 1), 1))
    if kind == "training and validation" or (kind == "writes" and room < 1):
        return dict(anchor=EPOCH_LINE.format(done + nth), count=1,
                    delay=rng.uniform(0, 1) * timeline.training[min(nth, 2) - 1], bound=(VALIDATION_LINE, nth))
    if kind == "writes":
        writes = timeline.writes[0] if nth == 1 else timeline.writes[done + nth - 1]
        return dict(anchor=VALIDATION_LINE, count=nth, delay=rng.uniform(0, 1) * writes, bound=(SUMMARY_LINE, nth))
    if kind == "last epoch's writes":
        return dict(anchor=VALIDATION_LINE, count=EPOCHS - done, delay=rng.uniform(0, 1) * timeline.writes[-1],
                    bound=None)
    assert kind == "after the last save"
    return dict(anchor=SUMMARY_LINE, count=EPOCHS - done, delay=rng.uniform(0, 1) * timeline.ending, bound=None)


def describe(anchor: str, count: int) -> str:
    """A line pattern as the report names it."""
    if anchor == VALIDATION_LINE:
        return f"validation line {count}"
    if anchor == SUMMARY_LINE:
        return f"epoch end line {count}"
    return anchor.strip("^$") if anchor else "start"


def where(watched: Watched, moment: float, total: int, save_begins: str | None) -> str:
    """Where a process was at ``moment``, from the lines it had printed: start-up, an epoch, an epoch's
    save (from the ``save_begins`` line on), after an epoch's save, or after the last one."""
    lines = [line for seen, line in watched.lines if seen <= moment]
    starts = [index for index, line in enumerate(lines) if re.match(r"^Epoch \d+/", line)]
    if not starts:
        return "start-up"
    epoch = int(lines[starts[-1]].split()[1].split("/")[0])
    after = lines[starts[-1]:]
    if any(re.match(SUMMARY_LINE, line) for line in after):
        return "after the last save" if epoch == total else f"after epoch {epoch}'s save"
    if save_begins is not None and any(re.match(save_begins, line) for line in after):
        return f"epoch {epoch}'s save"
    return f"epoch {epoch}"


def check_after_kill(run: Path, reference_log: pd.DataFrame) -> None:
    """What must hold at every instant: a best model only beside a saved state, loadable; a log that is
    the uninterrupted run's so far."""
    if (run / "model.keras").exists():
        assert (run / "backup" / "state.json").exists(), "a best model without a resume state"
        assert load(run / "model.keras").count_params() > 0
    if saved(run):
        assert (run / "model.keras").exists()
    if (run / "log.csv").exists():
        log = pd.read_csv(run / "log.csv")
        pd.testing.assert_frame_equal(log, reference_log.iloc[:len(log)], check_exact=True)


@pytest.mark.slow
def test_training_killed_at_random_instants_ends_as_the_uninterrupted_run(tmp_path, tiny_data):
    reference = tmp_path / "uninterrupted"
    watched = Watched(training_command(tiny_data, reference, "new"))
    assert watched.finish() == 0, watched.output()[-3000:]
    timeline = Timeline.of_training(watched)
    reference_log = pd.read_csv(reference / "log.csv")

    rng = random.Random(SEED)
    # The first two kills fall in the first epoch (so the next start finds an attempt's state with no
    # epoch saved), the second in its save (the moment a new run's first best model appears); the
    # rest in a random order; the last after the run's last save began.
    kinds = ["start-up"] * 3 + ["training and validation"] * 2 + ["writes"] * (TRAINING_KILLS - 8)
    rng.shuffle(kinds)
    kinds = ["first epoch", "first epoch's writes", *kinds, rng.choice(["last epoch's writes", "after the last save"])]
    run = tmp_path / "killed"
    kills: list[Kill] = []
    fresh_starts = 0  # new starts in a folder an earlier attempt had written to
    for kind in kinds:
        done = saved(run)
        # What a user types: --resume where epochs are saved; where none are but an attempt left its
        # state, a new start (accepted without --overwrite) or --resume (which starts at the first
        # epoch), at random after the first new start; where nothing is there, a new start.
        if done:
            flag = "--resume"
        elif (run / "backup" / "state.json").exists():
            flag = "new" if fresh_starts == 0 or rng.random() < 0.5 else "--resume"
            fresh_starts += flag == "new"
        else:
            flag = "new"
        plan = plan_training_kill(rng, kind, done, timeline)
        kill = Kill(kind, flag, describe(plan["anchor"], plan["count"]), plan["delay"])
        kills.append(kill)
        watched = Watched(training_command(tiny_data, run, flag))
        base = watched.moment(plan["anchor"], plan["count"]) if plan["anchor"] else 0.0
        if base is None:  # it ended before the anchor: refused, failed or (only for the last kill) finished
            assert watched.finish() == 0 and kind == kinds[-1], f"{watched.output()[-3000:]}\n{report(kills)}"
        else:
            kill.killed = watched.kill_at(base + plan["delay"], plan["bound"])
            assert kill.killed or watched.process.returncode == 0, f"{watched.output()[-3000:]}\n{report(kills)}"
        kill.landed = where(watched, watched.killed_at if kill.killed else watched.ended, EPOCHS, VALIDATION_LINE)
        kill.temporaries, kill.epochs = temporary_files(run), saved(run)
        check_after_kill(run, reference_log)
    print("\n" + report(kills))

    flag = "--resume" if saved(run) else "new"
    final = run_script(*training_command(tiny_data, run, flag)[1:])
    if saved(run) == EPOCHS and final.returncode == 2:  # the last kill came after the last save
        assert "already finished" in error_lines(final)[-1]
    else:
        assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_csv(run / "log.csv"), reference_log, check_exact=True)
    assert same_weights(load(run / "model.keras"), load(reference / "model.keras"))
    assert temporary_files(run) == []
    assert {"model.json", "config.txt", "training_curves.png"} <= {path.name for path in run.iterdir()}
    again = run_script(*training_command(tiny_data, run, "--resume")[1:])  # a finished run: one line, exit 2
    assert again.returncode == 2 and error_lines(again) == [
        f"error: {run / 'backup'}: the run has already finished {EPOCHS} epoch(s); "
        f"raise training.epochs above {EPOCHS} to go on"]

    assert sum(kill.killed for kill in kills) >= 10, report(kills)
    assert any(kill.landed == "start-up" for kill in kills), report(kills)
    assert any(re.fullmatch(r"epoch \d+'s save", kill.landed) and kill.temporaries for kill in kills), report(kills)
    assert fresh_starts >= 1, report(kills)


# ---- ranker training -----------------------------------------------------------------------------------

RANKER_EPOCHS = 4
RANKER_EPOCH_LINE = r"^Epoch {}/" + str(RANKER_EPOCHS) + "$"
RANKER_SAVED_LINE = SUMMARY_LINE


def ranker_command(out: Path) -> list[str]:
    return [sys.executable, str(REPO_ROOT / "ranking_model/train.py"), "--architecture", "pairwise",
            "--num-data", "10000", "--epochs", str(RANKER_EPOCHS), "--batch-size", "256", "--fresh-data",
            "--schedule", "cosine", "--learning-rate", "3e-3", "--out", str(out)]


def check_ranker_after_kill(out: Path, reference_log: pd.DataFrame) -> None:
    from asna.ranker.models import load_ranker

    state = out.with_name(f".{out.stem}.backup")
    if (state / "state.json").exists():
        assert load_ranker(str(state / "best.keras")).count_params() > 0
    if out.exists():
        assert load_ranker(str(out)).count_params() > 0
    log_path = out.with_suffix(".log.csv")
    if log_path.exists():
        log = pd.read_csv(log_path)
        pd.testing.assert_frame_equal(log, reference_log.iloc[:len(log)], check_exact=True)


@pytest.mark.slow
def test_ranker_killed_at_random_instants_ends_as_the_uninterrupted_run(tmp_path):
    from asna.ranker.models import load_ranker

    reference = tmp_path / "uninterrupted" / "r.keras"
    watched = Watched(ranker_command(reference))
    assert watched.finish() == 0, watched.output()[-3000:]
    epochs = [watched.moments(RANKER_EPOCH_LINE.format(epoch))[0] for epoch in range(1, RANKER_EPOCHS + 1)]
    ends = watched.moments(RANKER_SAVED_LINE)
    durations = [end - begin for begin, end in zip(epochs, ends)]
    reference_log = pd.read_csv(reference.with_suffix(".log.csv"))

    rng = random.Random(SEED + 1)
    out = tmp_path / "killed" / "r.keras"
    state = out.with_name(f".{out.stem}.backup") / "state.json"
    kinds = ["start-up", "a later epoch", "an epoch's end"]
    rng.shuffle(kinds)
    kinds = kinds[:RANKER_KILLS - 1] + ["finishing"]
    kills: list[Kill] = []
    for kind in kinds:
        done = json.loads(state.read_text())["epochs"] if state.exists() else 0
        room = RANKER_EPOCHS - 1 - done  # epochs this process may save before its last
        nth = 2 if kind == "a later epoch" and room >= 2 else 1
        if kind == "start-up" or (kind != "finishing" and room < 1):
            plan = dict(anchor="", count=0, delay=rng.uniform(0.05, 0.8) * epochs[0],
                        bound=(RANKER_EPOCH_LINE.format(done + 1), 1))
        elif kind == "a later epoch":  # the process's second epoch, so one is saved before
            plan = dict(anchor=RANKER_EPOCH_LINE.format(done + nth), count=1,
                        delay=rng.uniform(0, 1) * durations[nth - 1], bound=(RANKER_SAVED_LINE, nth))
        elif kind == "an epoch's end":  # validation and the save
            plan = dict(anchor=RANKER_EPOCH_LINE.format(done + nth), count=1,
                        delay=rng.uniform(0.8, 1.0) * durations[nth - 1], bound=(RANKER_SAVED_LINE, nth))
        else:  # copying the best ranker to --out and removing the saved state
            plan = dict(anchor=RANKER_SAVED_LINE, count=RANKER_EPOCHS - done,
                        delay=rng.uniform(0, 1) * (watched.ended - ends[-1]), bound=None)
        kill = Kill(kind, "same", describe(plan["anchor"], plan["count"]), plan["delay"])
        kills.append(kill)
        process = Watched(ranker_command(out))
        base = process.moment(plan["anchor"], plan["count"]) if plan["anchor"] else 0.0
        assert base is not None, f"{process.output()[-3000:]}\n{report(kills)}"
        kill.killed = process.kill_at(base + plan["delay"], plan["bound"])
        assert kill.killed or process.process.returncode == 0, f"{process.output()[-3000:]}\n{report(kills)}"
        kill.temporaries = temporary_files(out.parent)
        kill.epochs = json.loads(state.read_text())["epochs"] if state.exists() else 0
        kill.landed = where(process, process.killed_at if kill.killed else process.ended, RANKER_EPOCHS, None)
        check_ranker_after_kill(out, reference_log)
    print("\n" + report(kills))

    final = run_script(*ranker_command(out)[1:])
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_csv(out.with_suffix(".log.csv")), reference_log, check_exact=True)
    assert same_weights(load_ranker(str(out)), load_ranker(str(reference)))
    assert temporary_files(out.parent) == [] and not out.with_name(f".{out.stem}.backup").exists()
    assert sum(kill.killed for kill in kills) >= RANKER_KILLS - 1, report(kills)
