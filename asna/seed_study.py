"""The demo over several training seeds and precisions: what its figures are worth.

One demo run is one draw: its test SRCC moves by a few hundredths with the
training seed. ``run_study`` trains the demo's network once per (precision,
seed) on the same built-in set, keeps each run's ``metrics.json``, and
summarises mean ± sd of the test and xtest figures beside the hand-crafted
baselines (which do not depend on the seed). A run whose ``metrics.json`` is
already there is not trained again, so an interrupted study resumes; the
results table is rewritten atomically after every run.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Sequence

from asna.errors import UserError
from asna.evaluation.classic import METHODS as BASELINES
from asna.evaluation.report import SHORT_NAMES
from asna.paths import atomic_write

RESULTS, SUMMARY = "results.csv", "summary.md"
COLUMNS = ("precision", "seed", "val_srcc", "test_srcc", "test_plcc", "xtest_srcc", "xtest_plcc", "minutes")


def best_val_srcc(log: Path) -> float:
    """The validation SRCC of the epoch kept as the model (lowest ``val_loss``)."""
    import pandas as pd

    table = pd.read_csv(log)
    return float(table.loc[table["val_loss"].idxmin(), "val_srcc"])


def run_row(precision: str, seed: int, run_dir: Path, report: dict, minutes: float) -> dict:
    """One results row from a finished run folder and its parsed ``metrics.json``."""
    return {"precision": precision, "seed": seed, "val_srcc": best_val_srcc(run_dir / "log.csv"),
            "test_srcc": report["model"]["srcc"], "test_plcc": report["model"]["plcc"],
            "xtest_srcc": report["xtest"]["model"]["srcc"], "xtest_plcc": report["xtest"]["model"]["plcc"],
            "minutes": minutes}


def _mean_sd(values) -> str:
    values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not values:
        return "n/a"
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {sd:.4f}"


def summary_markdown(table, baselines: dict[str, dict[str, float]], command: str) -> str:
    """Mean ± sd per precision (sample sd over seeds), then the baselines on the same pairs."""
    lines = [f"# The demo over seeds\n\nCommand: `{command}`\n",
             "| precision | seeds | val SRCC | test SRCC | test PLCC | xtest SRCC | xtest PLCC | minutes per run |",
             "|---|---|---|---|---|---|---|---|"]
    for precision, rows in table.groupby("precision", sort=False):
        lines.append(f"| {precision} | {len(rows)} | " + " | ".join(
            _mean_sd(rows[column]) for column in COLUMNS[2:7]) + f" | {rows['minutes'].mean():.1f} |")
    lines += ["", "Hand-crafted baselines on the same pairs (SRCC; GMSD negated):", "",
              "| method | test SRCC | xtest SRCC |", "|---|---|---|"]
    for method in BASELINES:
        if method in baselines["test"]:
            lines.append(f"| {SHORT_NAMES[method]} | {baselines['test'][method]:.4f} | "
                         f"{baselines['xtest'][method]:.4f} |")
    return "\n".join(lines) + "\n"


def run_study(data_dir: str, out_dir: str, config_path: str, image_size: int, crops_per_image: int,
              seeds: int, precisions: Sequence[str], overrides: Sequence[str], command: str) -> Path:
    """Run the demo for every (precision, seed) not yet done; returns the summary's path."""
    import pandas as pd

    from asna.demo import run_demo

    if seeds < 1 or not precisions:
        raise UserError(f"--seeds {seeds} --precisions {','.join(precisions)}: need at least one of each")
    out = Path(out_dir)
    rows, report = [], {}
    for precision in precisions:
        for seed in range(seeds):
            run_dir = out / f"{precision}_seed{seed}"
            started = time.perf_counter()
            if not (run_dir / "metrics.json").exists():
                print(f"\n##### {precision}, training seed {seed} -> {run_dir}", flush=True)
                run_demo(data_dir, str(run_dir), config_path, image_size, crops_per_image, 0,
                         [*overrides, f"training.precision={precision}", f"training.seed={seed}"])
                minutes = (time.perf_counter() - started) / 60
                atomic_write(run_dir / "minutes.txt", lambda t, m=minutes: t.write_text(f"{m:.2f}\n"))
            minutes_file = run_dir / "minutes.txt"
            minutes = float(minutes_file.read_text()) if minutes_file.exists() else float("nan")
            report = json.loads((run_dir / "metrics.json").read_text())
            rows.append(run_row(precision, seed, run_dir, report, minutes))
            table = pd.DataFrame(rows, columns=list(COLUMNS))
            atomic_write(out / RESULTS, lambda t: table.to_csv(t, index=False, float_format="%.6f"))
    # the baselines do not depend on the training run: the last report's serve
    baselines = {"test": {m: report[m]["srcc"] for m in BASELINES if m in report},
                 "xtest": {m: report["xtest"][m]["srcc"] for m in BASELINES if m in report["xtest"]}}
    text = summary_markdown(table, baselines, command)
    atomic_write(out / SUMMARY, lambda t: t.write_text(text, encoding="utf-8"))
    print("\n" + text)
    return out / SUMMARY
