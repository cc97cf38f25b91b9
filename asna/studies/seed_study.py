"""The demo over several training seeds and precisions: what its figures are worth.

One demo run is one draw: its test SRCC moves by a few hundredths with the
training seed. ``run_study`` trains the demo's network once per (precision,
seed) on the same built-in set, keeps each run's ``metrics.json``, and
summarises mean ± sd of the figures on every labelled set the demo reports
(``asna.studies.demo.reported_sets``: test, xtest, full and, when the
human-rated folder is there, ``live_dev``) beside the hand-crafted
baselines (which do not depend on the seed), pooled and per distortion type.
A run whose ``metrics.json`` is already there is not trained again, so an
interrupted study resumes; the results table is rewritten atomically after
every run.

The runs train one after another in this process, or (``jobs`` > 1) side by
side, each in a child process (``asna.studies.seed_run``) with its share of the
CPUs: on a 2-core CPU three seeds of the built-in model took 62 min side by side,
the data included (one after another: about three times one seed alone, an estimate).
The summary is the same either way.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from asna.core.errors import UserError
from asna.core.paths import atomic_write
from asna.evaluation.classic import METHODS as BASELINES
from asna.evaluation.per_type import BY_TYPE, markdown_type_table, mean_sd, runs_mean_sd, type_label, type_order
from asna.evaluation.report import SHORT_NAMES
from asna.studies.recipe import DemoRecipe

RESULTS, SUMMARY = "results.csv", "summary.md"
TYPE_PLOT = "types_{name}.png"  # one per labelled set
FIGURES = ("srcc", "plcc")  # per set, per run
MINUTES = "minutes.txt"  # per run: its wall time (training and evaluation)
CONSOLE_LOG = "console.log"  # per run trained in a child process: everything it printed
CHILD_MODULE = "asna.studies.seed_run"
"""What a child run executes (``python -m``); the tests name a wrapper that keeps their tiny data sizes."""
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
"""TensorFlow's thread counts of a child run (``asna.studies.seed_run`` applies them before any op runs)."""
POLL_SECONDS = 1.0  # how often the study looks at its child runs
STOP_SECONDS = 60.0  # how long a child run told to stop may take to clean up before it is killed


def columns_for(sets: Sequence[str]) -> list[str]:
    """The results table's columns: a ``<set>_srcc`` and ``<set>_plcc`` per labelled set."""
    return ["precision", "seed", "val_srcc", *(f"{name}_{figure}" for name in sets for figure in FIGURES),
            "minutes"]


def best_val_srcc(log: Path) -> float:
    """The validation SRCC of the epoch kept as the model (lowest ``val_loss``)."""
    import pandas as pd

    table = pd.read_csv(log)
    return float(table.loc[table["val_loss"].idxmin(), "val_srcc"])


def run_row(precision: str, seed: int, run_dir: Path, reports: dict[str, dict], minutes: float) -> dict:
    """One results row from a finished run folder and its sets' reports (``asna.studies.demo.set_reports``)."""
    row = {"precision": precision, "seed": seed, "val_srcc": best_val_srcc(run_dir / "log.csv")}
    for name, report in reports.items():
        for figure in FIGURES:
            row[f"{name}_{figure}"] = report["model"][figure]
    return {**row, "minutes": minutes}


def _mean_sd(values) -> str:
    mean, sd, count = mean_sd(values)
    return "n/a" if not count else f"{mean:.4f} ± {sd:.4f}"


def _value(value) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def summary_markdown(table, baselines: dict[str, dict[str, float]], command: str,
                     runs: Sequence[tuple[str, dict[str, dict]]] = ()) -> str:
    """Mean ± sd per precision (sample sd over seeds), the baselines on the same pairs, then per type.

    ``baselines``: ``{set: {method: SRCC}}``; ``runs``: ``(precision, {set: report})`` of every run,
    for the per-type tables.
    """
    sets = list(baselines)
    figures = [f"{name}_{figure}" for name in sets for figure in FIGURES]
    lines = [f"# The demo over seeds\n\nCommand: `{command}`\n",
             "| precision | seeds | val SRCC | " + " | ".join(f"{name} {figure.upper()}" for name in sets
                                                       for figure in FIGURES) + " | minutes per run |",
             "|---|---|---|" + "---|" * len(figures) + "---|"]
    for precision, rows in table.groupby("precision", sort=False):
        lines.append(f"| {precision} | {len(rows)} | " + " | ".join(
            _mean_sd(rows[column]) if column in rows else "n/a" for column in ["val_srcc", *figures])
            + f" | {rows['minutes'].mean():.1f} |")
    lines += ["", "Hand-crafted baselines on the same pairs (SRCC; GMSD negated):", "",
              "| method | " + " | ".join(f"{name} SRCC" for name in sets) + " |", "|---|" + "---|" * len(sets)]
    for method in BASELINES:
        if any(method in baselines[name] for name in sets):
            lines.append(f"| {SHORT_NAMES[method]} | "
                         + " | ".join(_value(baselines[name].get(method)) for name in sets) + " |")
    for name in sets:
        lines += ["", *type_section(name, runs)]
    return "\n".join(lines) + "\n"


def type_columns(name: str, runs: Sequence[tuple[str, dict[str, dict]]]
                 ) -> tuple[dict[str, dict], dict[str, dict[str, tuple[float, float | None]]], dict[str, int]]:
    """One set's per-type rows (name, pairs), its columns (the network per precision as mean ± sd, then
    each baseline) and the runs behind each precision's column; empty when no run has per-type figures."""
    typed = [(precision, reports[name][BY_TYPE]) for precision, reports in runs
             if name in reports and BY_TYPE in reports[name]]
    if not typed:
        return {}, {}, {}
    rows: dict[str, dict] = {}
    for _, blocks in typed:
        for key, block in blocks.items():
            rows.setdefault(key, block)
    columns, counts = {}, {}
    for precision in dict.fromkeys(precision for precision, _ in typed):
        chosen = [blocks for p, blocks in typed if p == precision]
        figures = runs_mean_sd(chosen, "model")
        columns[f"network, {precision}"] = {key: (mean, sd) for key, (mean, sd, _) in figures.items()}
        counts[precision] = len(chosen)
    last = typed[-1][1]  # the baselines do not depend on the training run
    for method in BASELINES:
        if any(method in block for block in last.values()):
            columns[SHORT_NAMES[method]] = {key: (block.get(method), None) for key, block in last.items()}
    return {key: rows[key] for key in type_order(rows)}, columns, counts


def type_section(name: str, runs: Sequence[tuple[str, dict[str, dict]]]) -> list[str]:
    """Markdown lines: the set's SRCC per distortion type, the network as mean ± sd over seeds per precision."""
    rows, columns, counts = type_columns(name, runs)
    if not rows:
        return [f"## {name}: SRCC per distortion type", "",
                "No per-type figures in these runs (their metrics.json predate per-type reports)."]
    runs_text = ", ".join(f"{count} run(s) in {precision}" for precision, count in counts.items())
    return [f"## {name}: SRCC per distortion type", "",
            f"The network's SRCC over each type's pairs, mean ± sd over seeds ({runs_text}); the "
            "baselines do not depend on the seed. The best of each row is in bold.", "",
            *markdown_type_table(rows, columns)]


def plot_type_means(path: Path, name: str, runs: Sequence[tuple[str, dict[str, dict]]]) -> Path | None:
    """The set's per-type bars: the network per precision (mean, sd as error bars) and each baseline."""
    from asna.core.plots import plot_grouped_bars

    rows, columns, _ = type_columns(name, runs)
    if not rows:
        return None
    groups = [type_label(key, block.get("name"), 30) for key, block in rows.items()]
    series = {title: [column.get(key, (math.nan, None))[0] for key in rows] for title, column in columns.items()}
    series = {title: [math.nan if v is None else v for v in values] for title, values in series.items()}
    errors = {title: [column.get(key, (math.nan, None))[1] or 0.0 for key in rows]
              for title, column in columns.items() if title.startswith("network")}
    return plot_grouped_bars(path, groups, series, errors, ylabel="SRCC over the type's pairs",
                             title=f"{name}: SRCC per distortion type (network: mean ± sd over seeds)")


def run_overrides(overrides: Sequence[str], precision: str, seed: int) -> list[str]:
    """The config overrides of one (precision, seed) run: the study's, then its precision and seed."""
    return [*overrides, f"training.precision={precision}", f"training.seed={seed}"]


def train_run(recipe: DemoRecipe, run_dir: str, overrides: Sequence[str]) -> None:
    """One run: the demo into ``run_dir`` (a stopped run continues) and its wall time in ``minutes.txt``.

    The study's own process and a child run (``asna.studies.seed_run``) both train through
    here, so a run is the same whichever trained it.
    """
    from asna.studies.demo import run_demo

    started = time.perf_counter()
    run_demo(recipe, run_dir, 0, list(overrides), keep_run=True)
    minutes = (time.perf_counter() - started) / 60
    minutes_file = Path(run_dir) / MINUTES
    if not minutes_file.exists():  # an evaluation run again keeps its training's time
        atomic_write(minutes_file, lambda t: t.write_text(f"{minutes:.2f}\n"))


@dataclass(frozen=True)
class ChildRun:
    """One run trained in a process of its own; everything it prints goes to its folder's ``console.log``."""

    name: str  # what the study's lines call it: the folder's name
    run_dir: Path
    command: tuple[str, ...]

    @property
    def log(self) -> Path:
        return self.run_dir / CONSOLE_LOG


def child_run(recipe: DemoRecipe, run_dir: Path, overrides: Sequence[str]) -> ChildRun:
    """The command that trains one run in a child process (:func:`train_run` there, by ``CHILD_MODULE``)."""
    spec = {"recipe": asdict(recipe), "run_dir": str(run_dir), "overrides": list(overrides), "parent": os.getpid()}
    return ChildRun(run_dir.name, run_dir, (sys.executable, "-m", CHILD_MODULE, json.dumps(spec)))


def child_environment(at_once: int) -> dict[str, str]:
    """The child runs' environment: this one, plus the package importable from any working folder,
    unbuffered output (``console.log`` is written as the run goes) and TensorFlow's threads split
    between the runs side by side, so they do not fight over the cores (values already set are kept)."""
    from asna.data.workers import available_cpus

    environment = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    environment["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [environment.get("PYTHONPATH")])])
    environment["PYTHONUNBUFFERED"] = "1"
    threads = str(max(1, available_cpus() // at_once))
    for name in THREAD_VARIABLES:
        environment.setdefault(name, threads)
    return environment


def exit_text(code: int) -> str:
    """A child's exit status in words."""
    if code < 0:
        try:
            return f"ended by {signal.Signals(-code).name}"
        except ValueError:
            return f"ended by signal {-code}"
    return f"exit code {code}"


def last_line(log: Path, limit: int = 300) -> str:
    """The last non-empty line of a log (a progress bar's ``\\r`` parts count as lines), at most ``limit``
    characters: for a failed run, usually its ``error:`` line or its exception."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 65536))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    return lines[-1][:limit] if lines else ""


def _pause() -> None:
    time.sleep(POLL_SECONDS)


def stop_children(processes: Sequence[subprocess.Popen]) -> None:
    """SIGTERM to every child still running (it unwinds as after Ctrl-C, its training resumable), then
    SIGKILL to any not gone after ``STOP_SECONDS`` or when a second Ctrl-C comes while waiting."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    try:
        for process in processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    except BaseException:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        raise


def run_side_by_side(children: Sequence[ChildRun], jobs: int, environment: dict[str, str] | None = None) -> None:
    """Run the children, at most ``jobs`` at once, each appending its output to its ``console.log``.

    One line per run started and ended. A failed run stops no other: those running finish, none
    starts after it, then one ``UserError`` line names it and its log. Ctrl-C or SIGTERM (a
    KeyboardInterrupt here, ``asna.core.errors.run_cli``) stops every child before it goes on:
    their runs continue where they stopped when the study runs again.
    """
    queue = list(children)
    running: list[tuple[ChildRun, subprocess.Popen, float]] = []
    failed: list[tuple[ChildRun, int]] = []
    finished = 0
    try:
        while running or (queue and not failed):
            while queue and not failed and len(running) < jobs:
                child = queue.pop(0)
                child.run_dir.mkdir(parents=True, exist_ok=True)
                with open(child.log, "a", encoding="utf-8") as log:
                    log.write(f"\n##### {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(child.command)}\n")
                    log.flush()
                    process = subprocess.Popen(child.command, stdin=subprocess.DEVNULL, stdout=log,
                                               stderr=subprocess.STDOUT, env=environment)
                running.append((child, process, time.perf_counter()))
                print(f"started {child.name} (pid {process.pid}); its output: {child.log}", flush=True)
            _pause()
            for entry in list(running):
                child, process, started = entry
                code = process.poll()
                if code is None:
                    continue
                running.remove(entry)
                minutes = (time.perf_counter() - started) / 60
                if code == 0:
                    finished += 1
                    print(f"finished {child.name} in {minutes:.1f} min ({finished} of {len(children)})",
                          flush=True)
                else:
                    failed.append((child, code))
                    print(f"FAILED {child.name} after {minutes:.1f} min ({exit_text(code)}); "
                          f"its output: {child.log}", flush=True)
    except BaseException:
        if running:
            print(f"stopping {', '.join(child.name for child, _, _ in running)}; the same command "
                  "continues them", file=sys.stderr, flush=True)
        stop_children([process for _, process, _ in running])
        raise
    if failed:
        failed.sort(key=lambda entry: children.index(entry[0]))  # the study's order, not which ended first
        child, code = failed[0]
        reason = last_line(child.log)
        line = f"{child.run_dir}: the run failed ({exit_text(code)}{': ' + reason if reason else ''}); " \
               f"its output: {child.log}"
        if len(failed) > 1:
            line += f"; failed too: {', '.join(other.name for other, _ in failed[1:])}"
        if queue:
            line += f"; not started: {', '.join(other.name for other in queue)}"
        raise UserError(line)


def fill_classic_caches(sets: dict) -> None:
    """Compute the classic scores of every reported set (``asna.studies.demo.ReportedSet``) into its cache.

    Runs side by side reach their evaluation together, so each would compute them (on the built-in
    model's full-resolution folder, minutes of CPU a run); done once before they start, every run
    reads them. A set that cannot be read fails here, before any training, not after it.
    """
    computed = [name for name, reported in sets.items() if reported.fill_classic_cache()]
    if computed:
        print(f"classic scores of {', '.join(computed)} computed once for every run", flush=True)


def run_study(recipe: DemoRecipe, out_dir: str, seeds: int, precisions: Sequence[str], overrides: Sequence[str],
              command: str, jobs: int = 1) -> Path:
    """Run the demo of ``recipe`` for every (precision, seed) not yet done; returns the summary's path.

    ``overrides``: the training config's (``--set``), before each run's
    precision and seed. The human-rated folder (``recipe.live_dev``), when
    found, is a set of every run's report like the others (its baselines included).

    ``jobs``: runs trained at once. 1 trains them one after another in this
    process; more start the unfinished ones as child processes (up to ``jobs``
    at a time, :func:`run_side_by_side`), after building the data set and the
    classic scores' caches here once (:func:`fill_classic_caches`) so that no two
    children build them, then summarise as before.

    A seed killed part-way continues where it stopped (its training resumed, or
    only its evaluation run again). A finished run that lacks ``live_dev`` is
    scored on it and its ``metrics.json`` completed, without training again.
    """
    import pandas as pd

    from asna.data.human_rated import live_dev_folder
    from asna.studies.demo import add_missing_sets, recipe_files, reported_sets, set_reports

    if seeds < 1 or not precisions:
        raise UserError(f"--seeds {seeds} --precisions {','.join(precisions)}: need at least one of each")
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: need at least one")
    out = Path(out_dir)
    human, note = live_dev_folder(recipe.live_dev)
    if note:
        print(note)
    plan = [(precision, seed, out / f"{precision}_seed{seed}") for precision in precisions for seed in range(seeds)]
    children = [child_run(recipe, run_dir, run_overrides(overrides, precision, seed))
                for precision, seed, run_dir in plan if not (run_dir / "metrics.json").exists()]
    if jobs > 1 and children:
        recipe_files(recipe, 0)  # made once, before the runs that read them start
        fill_classic_caches(reported_sets(Path(recipe.data_dir), human))  # once, not once a run
        environment = child_environment(min(jobs, len(children)))
        print(f"\n##### {len(children)} run(s), {min(jobs, len(children))} at a time, "
              f"{environment[THREAD_VARIABLES[0]]} TensorFlow thread(s) each", flush=True)
        run_side_by_side(children, jobs, environment)
    fresh = {child.run_dir for child in children} if jobs > 1 else set()
    rows, runs, sets = [], [], {}
    for precision, seed, run_dir in plan:
        if not (run_dir / "metrics.json").exists():
            print(f"\n##### {precision}, training seed {seed} -> {run_dir}", flush=True)
            train_run(recipe, str(run_dir), run_overrides(overrides, precision, seed))
        elif human is not None and run_dir not in fresh:
            add_missing_sets(run_dir, Path(recipe.data_dir), human)
        minutes_file = run_dir / MINUTES
        minutes = float(minutes_file.read_text()) if minutes_file.exists() else float("nan")
        reports = set_reports(json.loads((run_dir / "metrics.json").read_text()))
        sets.update(dict.fromkeys(reports))
        runs.append((precision, reports))
        rows.append(run_row(precision, seed, run_dir, reports, minutes))
        table = pd.DataFrame(rows, columns=columns_for(sets))
        atomic_write(out / RESULTS, lambda t: table.to_csv(t, index=False, float_format="%.6f"))
    baselines = {}  # they do not depend on the training run: the last report of each set serves
    for _, reports in runs:
        baselines.update({name: {m: report[m]["srcc"] for m in BASELINES if m in report}
                          for name, report in reports.items()})
    text = summary_markdown(table, baselines, command, runs)
    atomic_write(out / SUMMARY, lambda t: t.write_text(text, encoding="utf-8"))
    for name in sets:
        plot = plot_type_means(out / TYPE_PLOT.format(name=name), name, runs)
        if plot is not None:
            print(f"wrote {plot}")
    print("\n" + text)
    return out / SUMMARY
