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
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Sequence

from asna.core.errors import UserError
from asna.core.paths import atomic_write
from asna.evaluation.classic import METHODS as BASELINES
from asna.evaluation.per_type import BY_TYPE, markdown_type_table, mean_sd, runs_mean_sd, type_label, type_order
from asna.evaluation.report import SHORT_NAMES

RESULTS, SUMMARY = "results.csv", "summary.md"
TYPE_PLOT = "types_{name}.png"  # one per labelled set
FIGURES = ("srcc", "plcc")  # per set, per run


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


def run_study(data_dir: str, out_dir: str, config_path: str, image_size: int, crops_per_image: int,
              seeds: int, precisions: Sequence[str], overrides: Sequence[str], command: str,
              train_crops_per_image: int | None = None, live_dev: str | None = None,
              procedural: int = 0) -> Path:
    """Run the demo for every (precision, seed) not yet done; returns the summary's path.

    ``live_dev``: the ``--live-dev`` option; the human-rated folder, when found,
    is a set of every run's report like the others (its baselines included).

    A seed killed part-way continues where it stopped (its training resumed, or
    only its evaluation run again). A finished run that lacks ``live_dev`` is
    scored on it and its ``metrics.json`` completed, without training again.
    """
    import pandas as pd

    from asna.data.human_rated import live_dev_folder
    from asna.studies.demo import add_missing_sets, run_demo, set_reports

    if seeds < 1 or not precisions:
        raise UserError(f"--seeds {seeds} --precisions {','.join(precisions)}: need at least one of each")
    out = Path(out_dir)
    human, note = live_dev_folder(live_dev)
    if note:
        print(note)
    rows, runs, sets = [], [], {}
    for precision in precisions:
        for seed in range(seeds):
            run_dir = out / f"{precision}_seed{seed}"
            started = time.perf_counter()
            if not (run_dir / "metrics.json").exists():
                print(f"\n##### {precision}, training seed {seed} -> {run_dir}", flush=True)
                run_demo(data_dir, str(run_dir), config_path, image_size, crops_per_image, 0,
                         [*overrides, f"training.precision={precision}", f"training.seed={seed}"],
                         train_crops_per_image, keep_run=True, live_dev=live_dev, procedural=procedural)
                minutes = (time.perf_counter() - started) / 60
                if not (run_dir / "minutes.txt").exists():  # an evaluation run again keeps its training's time
                    atomic_write(run_dir / "minutes.txt", lambda t, m=minutes: t.write_text(f"{m:.2f}\n"))
            elif human is not None:
                add_missing_sets(run_dir, Path(data_dir), human)
            minutes_file = run_dir / "minutes.txt"
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
