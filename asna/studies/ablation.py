"""The ablation grid: which network and which loss terms help, over several seeds.

Each cell (network, loss, seed) starts from ``configs/<network>_synthetic.txt``,
trains on ``synthetic_train.h5``, keeps the checkpoint with the best validation
loss on ``synthetic_val.h5``, and scores that model on ``synthetic_test.h5``,
``synthetic_xtest.h5`` (the test photographs distorted by other code) and, when
the data folder has it, the full-resolution folder ``full_test/`` (the test
photographs at their own size, second implementation, scored in tiles as a
folder: the ``full_srcc`` column). Losses:

* ``mse``       the MSE term alone (``mse_factor = 1``, no rank term);
* ``mse_plcc``  the config's MSE/PLCC mix without a rank term (a config whose
  ``mse_factor`` is 1 has no mix, so ``PLCC_MIX`` is used);
* ``learned``   ``mse_plcc`` plus the rank term with the learned ranker;
* ``softrank``  ``mse_plcc`` plus the rank term with the soft rank
  (both at the config's ``spearman_factor``).

``results.csv`` gets one row per finished cell, rewritten atomically after
each, so an interrupted grid resumes where it stopped: cells already there are
skipped. ``settings.json`` records the image size, schedule and data folder;
a run with other settings into the same folder is refused, so every row of
one folder is comparable. ``summary.md`` gives mean +- sd per cell beside the hand-crafted
baselines on the same files, then each cell's SRCC per distortion type on test,
xtest and full (``types.csv`` keeps them, a row per cell, split and type), and
``ablation.png`` plots the means with the sd as error bars. A ``results.csv``
written before ``full_srcc`` existed still loads: its cells show ``n/a`` there.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from asna.core.config import NETWORKS, Config, load_config
from asna.core.errors import UserError
from asna.core.paths import REPO_ROOT, atomic_write
from asna.evaluation.classic import METHODS as BASELINES
from asna.evaluation.per_type import BY_TYPE, markdown_type_table, mean_sd, type_blocks

LOSSES = ("mse", "mse_plcc", "learned", "softrank")
SPLITS = ("train", "val", "test", "xtest")
COLUMNS = ("network", "loss", "seed", "val_srcc", "test_srcc", "test_plcc", "xtest_srcc", "seconds")
FULL_COLUMNS = (*COLUMNS[:-1], "full_srcc", "seconds")  # when the data folder has full_test/
FULL, FULL_FOLDER = "full", "full_test"  # the full-resolution split and its folder in the data folder
PLCC_MIX = 0.5  # the original BN / second simple set's pre-training mix
RESULTS, SUMMARY, PLOT, BASELINE_FILE = "results.csv", "summary.md", "ablation.png", "baselines.json"
TYPES = "types.csv"
TYPE_COLUMNS = ("network", "loss", "seed", "split", "type", "name", "pairs", "srcc")
REPORTED = ("test", "xtest")  # the splits reported beside the baselines, pooled and per type
SETTINGS = "settings.json"
BASELINE_LINES = (("gmsd", "-GMSD", "--"), ("haarpsi", "HaarPSI", ":"), ("ms_ssim", "MS-SSIM", "-."))


@dataclass(frozen=True)
class Grid:
    """What to run and where: the command line of ``benchmarks/ablation.py``."""

    networks: tuple[str, ...]
    losses: tuple[str, ...]
    seeds: int
    image_size: int
    epochs: int
    steps_per_epoch: int
    data_dir: Path
    out: Path
    precision: str = "auto"

    def data_file(self, split: str) -> Path:
        return self.data_dir / f"synthetic_{split}.h5"

    def full_folder(self) -> Path:
        return self.data_dir / FULL_FOLDER

    def has_full(self) -> bool:
        """Whether the data folder holds the full-resolution test folder (then ``full_srcc`` is reported)."""
        return (self.full_folder() / "labels.txt").is_file()

    def reported(self) -> tuple[str, ...]:
        """The splits reported beside the baselines: test, xtest and, when there, full."""
        return (*REPORTED, FULL) if self.has_full() else REPORTED

    def settings(self) -> dict:
        """What makes cells comparable: every cell in one folder shares these."""
        return {"image_size": self.image_size, "epochs": self.epochs,
                "steps_per_epoch": self.steps_per_epoch, "data_dir": str(self.data_dir.resolve()),
                "precision": self.precision}

    def cells(self) -> list[tuple[str, str, int]]:
        return [(network, loss, seed) for network in self.networks for loss in self.losses
                for seed in range(self.seeds)]


def parse_names(text: str, known: Sequence[str], option: str) -> tuple[str, ...]:
    """A comma-separated list of names, each one of ``known``."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in known]
    if not names or unknown:
        raise UserError(f"{option} {text!r}: expected a comma-separated list of {', '.join(known)}")
    return names


def check_data(grid: Grid) -> None:
    """Every split file exists and holds pairs of the grid's image size."""
    from asna.data.pipeline import file_info

    for split in SPLITS:
        path = grid.data_file(split)
        if not path.is_file():
            raise UserError(f"{path}: not found; make the four synthetic files with "
                            f"python prepare_dataset/create_data_synthetic.py --out {grid.data_dir}")
        size = file_info(path).image_size
        if size != grid.image_size:
            raise UserError(f"{path}: holds {size} x {size} pairs; set --image-size {size} "
                            f"or prepare the data at {grid.image_size}")


def check_settings(grid: Grid) -> None:
    """Resume only a grid run with the same size, schedule and data; record them on the first run."""
    import json

    path = grid.out / SETTINGS
    if path.exists():
        kept = json.loads(path.read_text())
        if kept != grid.settings():
            changed = ", ".join(f"{key} {kept.get(key)} -> {value}" for key, value in grid.settings().items()
                                if kept.get(key) != value)
            raise UserError(f"{grid.out}: holds a grid run with other settings ({changed}); "
                            f"choose another --out or rerun with the same settings to resume")
        return
    text = json.dumps(grid.settings(), indent=2) + "\n"
    atomic_write(path, lambda temporary: temporary.write_text(text))


def cell_config(grid: Grid, network: str, loss: str, seed: int) -> Config:
    """The network's synthetic config with the grid's data, size, schedule, seed and loss."""
    source = REPO_ROOT / "configs" / f"{network}_synthetic.txt"
    base = load_config(source)
    mix = base.loss.mse_factor if base.loss.mse_factor < 1 else PLCC_MIX
    loss_keys = {"mse": ["loss.mse_factor=1.0", "loss.spearman_factor=0.0"],
                 "mse_plcc": [f"loss.mse_factor={mix}", "loss.spearman_factor=0.0"],
                 "learned": [f"loss.mse_factor={mix}", "loss.ranker=learned"],
                 "softrank": [f"loss.mse_factor={mix}", "loss.ranker=softrank"]}[loss]
    run = grid.out / "runs" / f"{network}_{loss}_seed{seed}" / "model.keras"
    overrides = [f"data.train='{grid.data_file('train')}'", f"data.val='{grid.data_file('val')}'",
                 f"model.image_size={grid.image_size}", f"training.epochs={grid.epochs}",
                 f"training.steps_per_epoch={grid.steps_per_epoch}", f"training.seed={seed}",
                 f"training.precision={grid.precision}",
                 f"training.model_path='{run}'", *loss_keys]
    if network == "tiled" and grid.image_size % base.model.tile_size:
        overrides.append(f"model.tile_size={grid.image_size}")
    return load_config(source, overrides)


def score_folder(model_path: Path, folder: Path, batch_size: int = 64):
    """The model's scores of a labelled challenge folder's pairs, fed in as users score photographs
    (the scripts' default fit and pooling), and the folder (``LabelledSet``: MOS, KADID types from the names)."""
    from asna.evaluation import DEFAULT_FIT
    from asna.evaluation.report import folder_set
    from asna.evaluation.scorer import QualityScorer

    data = folder_set(str(folder / "Ref"), str(folder / "Dis"), str(folder / "labels.txt"), "kadid")
    scorer = QualityScorer.from_paths([model_path], batch_size)
    names = iter(data.names)
    scores = [scorer.score_pairs(references, distorted, "none", None, DEFAULT_FIT,
                                 [next(names) for _ in references])
              for references, distorted in data.batches(batch_size)]
    return np.concatenate(scores), data


def labelled_data(grid: "Grid", split: str):
    """A reported split's ``LabelledSet``: the HDF5 file, or the full-resolution folder."""
    from asna.evaluation.report import folder_set, hdf5_set

    if split == FULL:
        folder = grid.full_folder()
        return folder_set(str(folder / "Ref"), str(folder / "Dis"), str(folder / "labels.txt"), "kadid")
    return hdf5_set(grid.data_file(split))


def score_file(model, path: Path, batch_size: int = 64):
    """The model's scores of every pair of a prepared file, and the file (``LabelledSet``: MOS, types)."""
    from asna.evaluation.report import hdf5_set

    data = hdf5_set(path)
    scores = [np.asarray(model.predict_on_batch([references, distorted])).reshape(-1)
              for references, distorted in data.batches(batch_size)]
    return np.concatenate(scores), data


def type_records(network: str, loss: str, seed: int, split: str, blocks: dict[str, dict]) -> list[dict]:
    """``types.csv`` rows of one cell on one split: the model's SRCC per distortion type."""
    return [{"network": network, "loss": loss, "seed": seed, "split": split, "type": key,
             "name": block["name"] or "", "pairs": block["pairs"], "srcc": block["model"]}
            for key, block in blocks.items()]


def run_cell(grid: Grid, network: str, loss: str, seed: int) -> tuple[dict, list[dict]]:
    """Train one cell and score its best checkpoint on val, test, xtest and (when there) full.

    Returns its ``results.csv`` row and its ``types.csv`` rows (SRCC per type on the reported splits).
    """
    import keras

    from asna.core import metrics
    from asna.core.precision import for_inference
    from asna.training.loop import train

    started = time.perf_counter()
    keras.backend.clear_session()
    model_path = train(network, cell_config(grid, network, loss, seed), overwrite=True)
    model = for_inference(keras.models.load_model(model_path, compile=False))  # scored as reports score
    row: dict = {"network": network, "loss": loss, "seed": seed}
    types: list[dict] = []
    for split in ("val", *grid.reported()):
        scores, data = (score_folder(model_path, grid.full_folder()) if split == FULL
                        else score_file(model, grid.data_file(split)))
        row[f"{split}_srcc"] = metrics.srcc(data.mos, scores)
        if split == "test":
            row["test_plcc"] = metrics.plcc(data.mos, scores)
        if split != "val" and data.types is not None and data.types.any:
            types += type_records(network, loss, seed, split, type_blocks(data.mos, {"model": scores}, data.types))
    row["seconds"] = time.perf_counter() - started
    return row, types


def read_results(path: Path, full: bool = False):
    """The finished cells so far (an empty table when there are none).

    With ``full`` (the data folder has ``full_test/``), a file written before the
    ``full_srcc`` column gains it, empty (NaN) for its cells.
    """
    import pandas as pd

    columns = list(FULL_COLUMNS if full else COLUMNS)
    if not path.exists():
        return pd.DataFrame(columns=columns)
    table = pd.read_csv(path)
    if list(table.columns) not in (list(COLUMNS), list(FULL_COLUMNS)):
        raise UserError(f"{path}: not an ablation results file (columns {', '.join(table.columns)}); "
                        f"choose another --out")
    return table.reindex(columns=list(FULL_COLUMNS)) if full or "full_srcc" in table else table


def write_results(path: Path, table) -> None:
    atomic_write(path, lambda temporary: table.to_csv(temporary, index=False, float_format="%.6f"))


def read_types(path: Path):
    """The per-type rows so far (empty for a grid run before per-type figures were kept)."""
    import pandas as pd

    if not path.exists():
        return pd.DataFrame(columns=list(TYPE_COLUMNS))
    return pd.read_csv(path, dtype={"type": str, "name": str}, keep_default_na=False,
                       na_values={"srcc": ["", "nan", "NaN"]})


def baseline_srcc(grid: Grid) -> dict[str, dict]:
    """``{split: {method: SRCC, "by_type": {type: {name, pairs, method: SRCC}}}}`` of the hand-crafted
    metrics on the reported splits (cached in OUT; a cache without per-type figures or a split is remade)."""
    import json

    cache = grid.out / BASELINE_FILE
    if cache.exists():
        cached = json.loads(cache.read_text())
        if all(BY_TYPE in cached.get(split, {}) for split in grid.reported()):
            return cached
    from asna.evaluation.classic import classic_scores_for_pairs
    from asna.evaluation.report import method_blocks, oriented

    result = {}
    for split in grid.reported():
        data = labelled_data(grid, split)
        columns: dict[str, list] = {method: [] for method in BASELINES}
        for references, distorted in data.batches(64):
            scores = classic_scores_for_pairs(list(references), list(distorted))
            for method in BASELINES:
                columns[method].append(scores[method])
        values = {m: np.concatenate(v) for m, v in columns.items()}
        blocks = method_blocks(data.mos, values)
        result[split] = {method: blocks[method]["srcc"] for method in BASELINES}
        by_type = type_blocks(data.mos, {m: oriented(m, values[m]) for m in BASELINES}, data.types) \
            if data.types is not None and data.types.any else {}
        result[split][BY_TYPE] = by_type
    text = json.dumps(result, indent=2, allow_nan=True) + "\n"
    atomic_write(cache, lambda temporary: temporary.write_text(text))
    return result


def cell_statistics(table):
    """Mean and sd (ddof 1; 0 with one seed) of every figure per (network, loss), grid order kept.

    Cells without a figure (``full_srcc`` of cells run before it existed) are left out of its mean.
    """
    figures = ["val_srcc", "test_srcc", "test_plcc", "xtest_srcc", *(["full_srcc"] if "full_srcc" in table
                                                                    else []), "seconds"]
    table = table.assign(**{figure: table[figure].astype(float) for figure in figures})
    grouped = table.groupby(["network", "loss"], sort=False)[figures]
    return grouped.mean(), grouped.std(ddof=1).fillna(0.0), grouped.size()


def _mean_sd(mean: float, sd: float) -> str:
    return "n/a" if not math.isfinite(mean) else f"{mean:.3f} ± {sd:.3f}"


def _above(mean: float, baseline: float | None) -> str:
    """``yes``/``no``: is a cell's mean SRCC above the baseline's (``n/a`` when either is undefined)?"""
    if baseline is None or not (math.isfinite(mean) and math.isfinite(baseline)):
        return "n/a"
    return "yes" if mean > baseline else "no"


def shown_splits(table, baselines: dict[str, dict]) -> list[str]:
    """The splits the summary and plot show: test and xtest, and full when the table or baselines have it."""
    return [*REPORTED, *([FULL] if "full_srcc" in table or FULL in baselines else [])]


def summary_markdown(grid: Grid, table, baselines: dict[str, dict], types=None) -> str:
    """The summary: one row per cell (mean ± sd over seeds), then the baselines, then per type.

    ``types``: the ``types.csv`` rows (none: no per-type tables). The full-resolution
    split gets a column wherever the table or the baselines have it (``n/a`` for cells run before it).
    """
    splits = shown_splits(table, baselines)
    if "full_srcc" not in table and FULL in splits:
        table = table.assign(full_srcc=math.nan)
    means, sds, counts = cell_statistics(table)
    extra = [split for split in splits if split != "test"]  # SRCC-only splits after test's SRCC and PLCC
    lines = [f"# Ablation: {grid.image_size} px, {grid.epochs} epoch(s) of {grid.steps_per_epoch} steps, "
             f"precision {grid.precision}",
             "", f"Data: `{grid.data_dir}`. SRCC/PLCC against the files' MOS; mean ± sd over seeds "
             "(sd 0 with one seed). Each model is the checkpoint with the best validation loss."
             + (" full: the test photographs at their own resolution (second implementation), scored in "
                "tiles as a folder." if FULL in splits else ""), "",
             "| network | loss | seeds | val SRCC | test SRCC | test PLCC | "
             + "".join(f"{split} SRCC | " for split in extra)
             + f"mean above -GMSD ({' / '.join(splits)}) | minutes |",
             "|---|---|---|---|---|---|" + "---|" * len(extra) + "---|---|"]
    gmsd = [baselines.get(split, {}).get("gmsd") for split in splits]
    for key in means.index:
        m, s = means.loc[key], sds.loc[key]
        above = " / ".join(_above(m[f"{split}_srcc"], base) for split, base in zip(splits, gmsd))
        lines.append(f"| {key[0]} | {key[1]} | {counts.loc[key]} | {_mean_sd(m.val_srcc, s.val_srcc)} | "
                     f"{_mean_sd(m.test_srcc, s.test_srcc)} | {_mean_sd(m.test_plcc, s.test_plcc)} | "
                     + "".join(f"{_mean_sd(m[f'{split}_srcc'], s[f'{split}_srcc'])} | " for split in extra)
                     + f"{above} | {m.seconds / 60:.1f} |")
    lines += ["", "Hand-crafted baselines on the same pairs (GMSD's SRCC is that of -GMSD, "
              "since GMSD falls as quality rises):", "",
              "| method | " + " | ".join(f"{split} SRCC" for split in splits) + " |",
              "|---|" + "---|" * len(splits)]
    for method in BASELINES:
        values = [baselines.get(split, {}).get(method) for split in splits]
        cells = ["n/a" if value is None or not math.isfinite(value) else f"{value:.3f}" for value in values]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    if types is not None:
        for split in splits:
            lines += ["", *type_section(split, table, types, baselines.get(split, {}).get(BY_TYPE, {}))]
    return "\n".join(lines) + "\n"


def type_section(split: str, table, types, baseline_types: dict[str, dict]) -> list[str]:
    """Markdown lines: each cell's SRCC per distortion type on ``split`` (mean ± sd over seeds), then the baselines."""
    from asna.evaluation.report import SHORT_NAMES

    title = f"## {split}: SRCC per distortion type"
    if not baseline_types:
        return [title, "", f"No per-type figures: {split} stores no distortion types."]
    chosen = types[types["split"] == split]
    columns: dict[str, dict] = {}
    for network, loss in dict.fromkeys(zip(table["network"], table["loss"])):
        cell = chosen[(chosen["network"] == network) & (chosen["loss"] == loss)]
        columns[f"{network} {loss}"] = {key: mean_sd(list(group["srcc"]))[:2]
                                        for key, group in cell.groupby("type", sort=False)}
    for method in BASELINES:
        columns[SHORT_NAMES[method]] = {key: (block.get(method), None) for key, block in baseline_types.items()}
    missing = [name for name, column in columns.items() if not column]
    note = (f" No per-type figures were kept for {', '.join(missing)} (cells run before they were)."
            if missing else "")
    return [title, "", "Each cell's SRCC over the type's pairs, mean ± sd over seeds, then the baselines on "
            f"the same pairs (GMSD negated). The best of each row is in bold.{note}", "",
            *markdown_type_table(baseline_types, columns, decimals=3)]


def plot_grid(path: Path, table, baselines: dict[str, dict[str, float]]) -> Path:
    """SRCC per network on test, xtest (and full), one bar per loss, sd error bars, baselines as lines."""
    import matplotlib.pyplot as plt

    from asna.core.plots import save_figure

    splits = shown_splits(table, baselines)
    if "full_srcc" not in table and FULL in splits:
        table = table.assign(full_srcc=math.nan)
    means, sds, _ = cell_statistics(table)
    networks = list(dict.fromkeys(key[0] for key in means.index))
    losses = list(dict.fromkeys(key[1] for key in means.index))
    width = 0.8 / len(losses)
    figure, axes = plt.subplots(1, len(splits), figsize=(6 * len(splits), 4.2), sharey=True)
    for axis, split in zip(axes, splits):
        column = f"{split}_srcc"
        for index, loss in enumerate(losses):
            keys = [(network, loss) for network in networks]
            present = [key in means.index for key in keys]
            heights = [means.loc[key, column] if ok else np.nan for key, ok in zip(keys, present)]
            errors = [sds.loc[key, column] if ok else 0.0 for key, ok in zip(keys, present)]
            positions = np.arange(len(networks)) + (index - (len(losses) - 1) / 2) * width
            axis.bar(positions, heights, width, yerr=errors, capsize=3, label=loss)
        for method, name, style in BASELINE_LINES:
            value = baselines.get(split, {}).get(method)
            if value is not None and math.isfinite(value):
                axis.axhline(value, color="black", linestyle=style, linewidth=1, label=name)
        axis.set_xticks(np.arange(len(networks)), networks)
        axis.set(title=f"{split} SRCC (mean ± sd over seeds)", ylabel="SRCC")
    axes[0].set_ylim(*srcc_range(means, sds, baselines, splits))  # differences of hundredths must show
    axes[-1].legend(fontsize=8, loc="lower right")
    return save_figure(figure, path)


def srcc_range(means, sds, baselines: dict[str, dict[str, float]],
               splits: Sequence[str] = REPORTED) -> tuple[float, float]:
    """The y range of the plot: every bar end, error bar and baseline line, with a margin."""
    values = [value for split in splits for value in (
        *(means[f"{split}_srcc"] - sds[f"{split}_srcc"]), *(means[f"{split}_srcc"] + sds[f"{split}_srcc"]),
        *(baselines.get(split, {}).get(method) for method, _, _ in BASELINE_LINES))
        if value is not None and math.isfinite(value)]
    if not values:
        return -1.0, 1.0
    low, high = min(values), max(values)
    return max(-1.0, math.floor(round((low - 0.05) * 20, 9)) / 20), min(1.0, high + 0.03)


def write_reports(grid: Grid, table, types=None) -> None:
    """Summary and plot from the results so far (``types``: the per-type rows)."""
    baselines = baseline_srcc(grid)
    text = summary_markdown(grid, table, baselines, types)
    atomic_write(grid.out / SUMMARY, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    plot_grid(grid.out / PLOT, table, baselines)


def run_grid(grid: Grid) -> Path:
    """Run every cell not yet in ``results.csv``; returns the results file."""
    import pandas as pd

    check_data(grid)
    results = grid.out / RESULTS
    table = read_results(results, grid.has_full())
    types = read_types(grid.out / TYPES)
    check_settings(grid)
    done = {(row.network, row.loss, int(row.seed)) for row in table.itertuples()}
    # rows of a cell killed between writing types.csv and results.csv: it runs again
    types = types.loc[np.array([(n, l, int(s)) in done for n, l, s in
                                zip(types["network"], types["loss"], types["seed"])], dtype=bool)]
    todo = [cell for cell in grid.cells() if cell not in done]
    print(f"ablation: {len(grid.cells())} cells, {len(grid.cells()) - len(todo)} already in {results}")
    for count, (network, loss, seed) in enumerate(todo, start=1):
        print(f"\n=== cell {count}/{len(todo)}: {network}, {loss}, seed {seed}")
        row, cell_types = run_cell(grid, network, loss, seed)
        table = (pd.concat([table, pd.DataFrame([row])], ignore_index=True) if len(table)
                 else pd.DataFrame([row], columns=list(table.columns)))
        if cell_types:
            added = pd.DataFrame(cell_types, columns=list(TYPE_COLUMNS))
            types = pd.concat([types, added], ignore_index=True) if len(types) else added
            write_results(grid.out / TYPES, types[list(TYPE_COLUMNS)])  # before results.csv: a cell there is complete
        write_results(results, table[list(table.columns)])
        print("  " + ", ".join(f"{key} {row[key]:.4f}" for key in table.columns[3:] if key in row))
    if len(table):
        write_reports(grid, table, types)
        print(f"wrote {results}, {grid.out / SUMMARY} and {grid.out / PLOT}")
    return results
