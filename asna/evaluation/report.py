"""The labelled-set report: models against PSNR, SSIM, MS-SSIM, GMSD and HaarPSI on the same pairs.

For every method: SRCC, PLCC, KRCC, RMSE and the challenge's main score
(SRCC + PLCC), computed once over all pairs against the true scores (the HDF5
file's raw ``mos``, or the label file's scores).

* Every method's correlations are those of a value that grows with quality:
  PSNR, SSIM, MS-SSIM and HaarPSI as computed, GMSD (a distortion, 0 for
  identical images) negated, so the table, JSON and scatter titles give the
  figures of -GMSD and a good GMSD correlates positively with MOS like the
  rest. The per-pair CSV keeps the raw GMSD. A dataset whose labels grow with
  damage (a DMOS) gives every method a negative sign.
* An undefined number (a correlation with constant scores) is NaN in memory,
  ``n/a`` in the table and ``null`` in JSON.
* A file that mixes sources (e.g. PieAPP 0-1 with TID 0-9) gets each source's
  figures beside the pooled ones: the JSON holds a ``by_source`` block
  ``{source: {method: numbers}}`` and the table one section per source, since
  offsets between the scales dominate pooled figures.
* The models' RMSE is on the dataset's scale (their scores are mapped back with
  the sidecar standardisation). A classic metric lives on its own scale, so its
  RMSE is reported after a least-squares linear fit of the metric to the true
  scores (which leaves its correlations unchanged).
* A method that has no value for some pair (SSIM and MS-SSIM of images under
  11 pixels) gets NaN (null) for every number.
* Every method's SRCC per distortion type (``asna.evaluation.per_type``), from
  the same per-pair values: a second table (types as rows), a ``by_type`` block
  ``{type: {"name", "pairs", method: srcc}}`` in the JSON beside the unchanged
  method blocks, and ``--type-plot``, a grouped bar plot.

Outputs: a table on screen; ``--json`` a block per method; ``--csv`` one row per
pair; ``--plot`` one scatter panel per method; ``--type-plot`` the per-type bars;
``--html`` one self-contained page of all of it with the pairs the model gets
most wrong (:mod:`asna.evaluation.html_report`). No output may name an input.
Every file is written under a temporary name and renamed, so nothing
half-written is ever left.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from asna.core import metrics
from asna.core.errors import UserError
from asna.core.paths import Named, atomic_write, check_writable, refuse_overlaps
from asna.evaluation import DEFAULT_HTML_PAIRS, DEFAULT_POOL
from asna.evaluation.per_type import (BY_TYPE, PairTypes, folder_types, format_type_table, plot_types,
                                      stored_types, trailing_line, type_blocks, wins_line)

METHODS = ("model", "psnr", "ssim", "ms_ssim", "gmsd", "haarpsi")
METRIC_KEYS = ("srcc", "plcc", "krcc", "rmse", "main_score")
LABELS = {"model": "model score", "psnr": "PSNR (dB)", "ssim": "SSIM", "ms_ssim": "MS-SSIM",
          "gmsd": "GMSD (lower = better)", "haarpsi": "HaarPSI"}
ROW_NAMES = {"gmsd": "-gmsd"}  # the table shows the figures of the value it correlates
SHORT_NAMES = {"model": "network", "psnr": "PSNR", "ssim": "SSIM", "ms_ssim": "MS-SSIM", "gmsd": "-GMSD",
               "haarpsi": "HaarPSI"}  # in one-line verdicts and summaries; GMSD's figures are -GMSD's
SIGNS = {"gmsd": -1.0}  # distortions are negated so every method's correlations grow with quality
BY_SOURCE = "by_source"

Batches = Callable[[int], Iterator[tuple[Sequence[np.ndarray], Sequence[np.ndarray]]]]


# ----------------------------------------------------------------------------- numbers


def linear_fit_rmse(y_true: np.ndarray, values: np.ndarray) -> float:
    """RMSE of the true scores against ``a * value + b`` fitted by least squares."""
    design = np.stack([np.asarray(values, np.float64), np.ones(len(values))], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, np.asarray(y_true, np.float64), rcond=None)
    return metrics.rmse(y_true, design @ coefficients)


def method_metrics(y_true: np.ndarray, values: np.ndarray, fit_rmse: bool) -> dict[str, float]:
    """The five numbers of one method; all NaN when a value is missing or there are under 2 pairs."""
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)) or len(values) < 2:
        return dict.fromkeys(METRIC_KEYS, float("nan"))
    result = dict(metrics.all_metrics(y_true, values))
    if fit_rmse:
        result["rmse"] = linear_fit_rmse(y_true, values)
    return result


def oriented(method: str, values: np.ndarray) -> np.ndarray:
    """The values a method's correlations are computed on: distortions negated."""
    return SIGNS.get(method, 1.0) * np.asarray(values, dtype=np.float64)


def method_blocks(y_true: np.ndarray, predictions: dict[str, np.ndarray]) -> dict[str, dict]:
    """``{method: {srcc, plcc, krcc, rmse, main_score}}`` for the methods in ``METHODS`` order."""
    return {method: method_metrics(y_true, oriented(method, predictions[method]), fit_rmse=method != "model")
            for method in METHODS if method in predictions}


def build_report(y_true: np.ndarray, predictions: dict[str, np.ndarray],
                 sources: Sequence[str] | None = None, types: PairTypes | None = None) -> dict[str, dict]:
    """The pooled blocks of :func:`method_blocks`, plus ``by_source`` when ``sources`` has several
    and ``by_type`` (each method's SRCC per distortion type) when ``types`` gives any."""
    report = method_blocks(y_true, predictions)
    names = sorted(set(sources)) if sources is not None else []
    if len(names) > 1:
        labels = np.asarray(sources)
        report[BY_SOURCE] = {
            name: method_blocks(np.asarray(y_true)[labels == name],
                                {method: np.asarray(values)[labels == name]
                                 for method, values in predictions.items()})
            for name in names}
    if types is not None and types.any:
        report[BY_TYPE] = type_blocks(y_true, {method: oriented(method, predictions[method])
                                               for method in METHODS if method in predictions}, types)
    return report


def _cell(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _table_rows(blocks: dict[str, dict]) -> list[str]:
    lines = [f"{'method':<9} {'SRCC':>8} {'PLCC':>8} {'KRCC':>8} {'RMSE':>11} {'main score':>11}"]
    for method, numbers in blocks.items():
        cells = [_cell(numbers[key]) for key in METRIC_KEYS]
        mark = "*" if method != "model" and cells[3] != "n/a" else " "
        lines.append(f"{ROW_NAMES.get(method, method):<9} {cells[0]:>8} {cells[1]:>8} {cells[2]:>8} "
                     f"{cells[3]:>10}{mark} {cells[4]:>11}")
    return lines


def format_table(report: dict[str, dict], pairs: int, sources: Sequence[str] | None = None) -> str:
    """A fixed-width table (pooled, then one per source when there are several); fitted RMSE marked."""
    pooled = {method: report[method] for method in METHODS if method in report}
    title = f"{pairs} pairs" + (", all sources pooled" if BY_SOURCE in report else "")
    lines = [title, *_table_rows(pooled)]
    for name, blocks in report.get(BY_SOURCE, {}).items():
        count = f"{list(sources).count(name)} pairs" if sources is not None else "pairs"
        lines += ["", f"source {name} ({count})", *_table_rows(blocks)]
    lines.append("* RMSE after a least-squares linear fit of the metric to the true scores")
    if "gmsd" in pooled:
        lines.append("-gmsd: GMSD is a distortion (lower = better); its figures are those of -GMSD")
    return "\n".join(lines)


def format_types(report: dict[str, dict], types: PairTypes | None) -> str:
    """The per-type table, the lines that say where the model leads and trails, or why there is none."""
    lines = [format_type_table(report[BY_TYPE], ROW_NAMES), wins_line(report[BY_TYPE], ROW_NAMES),
             trailing_line(report[BY_TYPE], ROW_NAMES)] if BY_TYPE in report else []
    if types is not None and types.note:
        lines.append(types.note)
    return "\n".join(lines)


# ----------------------------------------------------------------------------- files


def json_safe(value):
    """``value`` with every non-finite float (in nested dicts) as None, which JSON writes as null."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike, report: dict[str, dict]) -> Path:
    """The report as JSON (NaN written as null)."""
    text = json.dumps(json_safe(report), indent=2) + "\n"
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_csv(path: str | os.PathLike, columns: dict[str, Sequence]) -> Path:
    """One row per pair: names, true score and every method's value."""
    import pandas as pd

    table = pd.DataFrame(columns)
    return atomic_write(path, lambda temporary: table.to_csv(temporary, index=False, float_format="%.6g"))


def check_figure_path(path: str | os.PathLike, option: str) -> Path:
    """Refuse a folder or a format matplotlib cannot write before any work is done."""
    from matplotlib.figure import Figure

    path = Path(path)
    formats = Figure().canvas.get_supported_filetypes()
    if path.is_dir():
        raise UserError(f"{path}: is a folder; {option} wants a file name")
    if path.suffix.lower().lstrip(".") not in formats:
        raise UserError(f"{path}: {option} needs one of the extensions "
                        f"{', '.join('.' + f for f in sorted(formats))}")
    return check_writable(path, option)


def plot_scatter(path: str | os.PathLike, y_true: np.ndarray, predictions: dict[str, np.ndarray],
                 report: dict[str, dict], title: str = "") -> Path:
    """One panel per method: its value (x) against the true score (y)."""
    import matplotlib.pyplot as plt

    from asna.core.plots import save_figure

    methods = [m for m in METHODS if m in predictions]
    figure, axes = plt.subplots(1, len(methods), figsize=(4 * len(methods), 3.8), squeeze=False)
    for axis, method in zip(axes[0], methods):
        numbers = report[method]
        if _cell(numbers["srcc"]) == "n/a":
            axis.text(0.5, 0.5, "not available", ha="center", va="center", transform=axis.transAxes)
        else:
            axis.scatter(predictions[method], y_true, s=8, alpha=0.6)
            axis.set_title(f"{ROW_NAMES.get(method, method)}: SRCC {numbers['srcc']:.3f}, "
                           f"PLCC {numbers['plcc']:.3f}", fontsize=10)
        axis.set(xlabel=LABELS[method], ylabel="true score")
    if title:
        figure.suptitle(title)
    save_figure(figure, path)
    return Path(path)


def save_pair_figure(path: str | os.PathLike, reference: np.ndarray, distorted: np.ndarray,
                     score: float, names: tuple[str, str]) -> Path:
    """Both images side by side with the score above them."""
    import matplotlib.pyplot as plt

    from asna.core.plots import save_figure

    height, width = reference.shape[:2]
    figure, axes = plt.subplots(1, 2, figsize=(9, 4.5 * height / width + 0.8), layout="constrained")
    for axis, image, label, name in zip(axes, (reference, distorted), ("reference", "distorted"), names):
        axis.imshow(image)
        axis.set_title(f"{label}: {Path(name).name}", fontsize=10)
        axis.axis("off")
    figure.suptitle(f"Image Quality Score: {score:.4f}")
    save_figure(figure, path)
    return Path(path)


# ----------------------------------------------------------------------------- labelled sets


@dataclass
class LabelledSet:
    """Pairs with true scores, read batch by batch (an HDF5 file or a challenge folder)."""

    where: str
    names: list[str]
    references: list[str]
    mos: np.ndarray
    sources: list[str] | None  # per pair (HDF5 files); None: the models' own scale
    batches: Batches
    types: PairTypes | None = None  # each pair's distortion type, for the per-type figures
    inputs: tuple[Named, ...] = ()  # every file the pairs are read from, with the option that named it
    read_pair: Callable[[int], tuple[np.ndarray, np.ndarray]] | None = None  # pair i's images, for the HTML page
    places: tuple[str, ...] = ()  # the files and folders the set lives in (its notices are looked for there)

    def __post_init__(self) -> None:
        if len(self.names) < 2:
            raise UserError(f"{self.where}: correlations need at least two labelled pairs, "
                            f"found {len(self.names)}")

    @property
    def files(self) -> tuple[str, ...]:
        """What the pairs are read from, sorted (the classic scores' cache fingerprint)."""
        return tuple(sorted({str(path) for _, path in self.inputs}))


def hdf5_set(path: str | os.PathLike) -> LabelledSet:
    """A prepared HDF5 file: its S x S pairs, raw ``mos`` and per-pair ``source``."""
    from asna.data.layout import DISTORTED, REFERENCE, decode_strings, open_pairs, read_dist_types, read_rows

    with open_pairs(path) as handle:
        names = decode_strings(handle["dist_name"][:])
        references = decode_strings(handle["ref_id"][:])
        sources = decode_strings(handle["source"][:])
        mos = read_rows(handle["mos"]).astype(np.float64)
        types = stored_types(read_dist_types(handle), sources)

    def batches(batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        with open_pairs(path) as handle:
            for start in range(0, len(names), batch_size):
                block = read_rows(handle["x"], slice(start, start + batch_size))
                yield block[:, REFERENCE], block[:, DISTORTED]

    def read_pair(index: int) -> tuple[np.ndarray, np.ndarray]:
        with open_pairs(path) as handle:
            pair = read_rows(handle["x"], index)
        return pair[REFERENCE], pair[DISTORTED]

    return LabelledSet(str(path), names, references, mos, sources, batches, types, (("--data", str(path)),),
                       read_pair, (str(path),))


def folder_set(ref_dir: str, dis_dir: str, labels: str, type_names: str | None = None) -> LabelledSet:
    """A challenge folder and its ``name,score`` label file; types from the names (``type_names``: whose ids)."""
    from asna.evaluation.folders import labelled_pairs, match_pairs, pair_batches, pair_files, read_labels

    pairs, mos = labelled_pairs(match_pairs(ref_dir, dis_dir), read_labels(labels), labels)

    def batches(batch_size: int) -> Iterator[tuple[list[np.ndarray], list[np.ndarray]]]:
        for _, references, distorted in pair_batches(pairs, batch_size):
            yield references, distorted

    def read_pair(index: int) -> tuple[np.ndarray, np.ndarray]:
        from asna.data.images import read_rgb

        return read_rgb(pairs[index].reference), read_rgb(pairs[index].distorted)

    names = [p.name for p in pairs]
    inputs = (*pair_files(pairs), ("--labels", str(labels)))
    return LabelledSet(str(dis_dir), names, [p.reference.name for p in pairs], mos, None, batches,
                       folder_types(names, type_names), inputs, read_pair,
                       (str(ref_dir), str(dis_dir), str(labels)))


def score_set(scorer, data: LabelledSet, tta: str, fit: str,
              scale_source: str | None, pool: str = DEFAULT_POOL,
              classic_cache: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Model and classic scores of every pair, batch by batch, with a progress bar on a terminal.

    ``classic_cache``: a file that keeps the classic scores for the next run
    (``asna.evaluation.classic_cache``); they are computed only when it holds
    none for this set as it is now.
    """
    from tqdm import tqdm

    from asna.evaluation.classic import METHODS as CLASSIC, classic_scores_for_pairs

    stamp, cached = cached_classic(data, classic_cache)
    columns: dict[str, list[np.ndarray]] = {method: [] for method in METHODS}
    done = 0
    with tqdm(total=len(data.names), unit="pair", disable=None) as bar:
        for references, distorted in data.batches(scorer.batch_size):
            count = len(references)
            source = scale_source if scale_source or data.sources is None else data.sources[done:done + count]
            columns["model"].append(scorer.score_pairs(references, distorted, tta, source, fit,
                                                       data.names[done:done + count], pool))
            if cached is None:
                classic = classic_scores_for_pairs(list(references), list(distorted))
                for method in CLASSIC:
                    columns[method].append(classic[method])
            done += count
            bar.update(count)
    if cached is not None:
        print(f"classic metrics' scores from {classic_cache} (the set is unchanged)")
        return {"model": np.concatenate(columns["model"]), **cached}
    scores = {method: np.concatenate(values) for method, values in columns.items()}
    keep_classic(classic_cache, stamp, scores)
    return scores


def cached_classic(data: LabelledSet, classic_cache: str | os.PathLike | None
                   ) -> tuple[str, dict[str, np.ndarray] | None]:
    """``data``'s fingerprint as it is now (before it is read) and the classic scores ``classic_cache``
    keeps for it, or None."""
    from asna.evaluation import classic_cache as cache
    from asna.evaluation.classic import METHODS as CLASSIC

    if not classic_cache:
        return "", None
    stamp = cache.fingerprint(data.names, data.files)
    return stamp, cache.read_cache(Path(classic_cache), stamp, CLASSIC)


def keep_classic(classic_cache: str | os.PathLike | None, stamp: str, scores: dict[str, np.ndarray]) -> None:
    """Write the classic scores among ``scores`` to ``classic_cache`` under ``stamp``, when there is a cache."""
    from asna.evaluation import classic_cache as cache
    from asna.evaluation.classic import METHODS as CLASSIC

    if classic_cache:
        cache.write_cache(Path(classic_cache), stamp, {method: scores[method] for method in CLASSIC})


def fill_classic_cache(data: LabelledSet, classic_cache: str | os.PathLike, batch_size: int = 64) -> bool:
    """Compute ``data``'s classic scores into ``classic_cache`` unless it holds them; True when computed.

    What :func:`score_set` would compute, without a model: a seed study's parent fills the caches while
    its runs train, so the runs, which reach their evaluation together, read them instead of each
    computing them.
    """
    from asna.evaluation.classic import METHODS as CLASSIC, classic_scores_for_pairs

    stamp, cached = cached_classic(data, classic_cache)
    if cached is not None:
        return False
    parts = [classic_scores_for_pairs(list(references), list(distorted))
             for references, distorted in data.batches(batch_size)]
    keep_classic(classic_cache, stamp, {method: np.concatenate([part[method] for part in parts]) for method in CLASSIC})
    return True


def per_pair_columns(data: LabelledSet, predictions: dict[str, np.ndarray]) -> dict[str, Sequence]:
    """The CSV's columns in order."""
    return {"name": data.names, "reference": data.references,
            "source": data.sources or [""] * len(data.names), "mos": data.mos,
            **{method: predictions[method] for method in METHODS}}


def run_dataset(data_file: str | None, ref_dir: str | None, dis_dir: str | None, labels: str | None,
                model_paths: Sequence[str] | None, tta: str, fit: str, scale_source: str | None,
                batch_size: int, json_path: str | None, plot_path: str | None,
                csv_path: str | None, *, type_plot: str | None = None,
                type_names: str | None = None, pool: str = DEFAULT_POOL,
                classic_cache: str | None = None, html_path: str | None = None,
                html_pairs: int = DEFAULT_HTML_PAIRS) -> dict[str, dict]:
    """Everything ``evaluation_dataset.py`` does: check, load, score, report, write.

    ``type_plot``: the per-type bar plot's file; ``type_names``: whose type ids a
    folder's names carry (``kadid``, ``tid2008``, ``tid2013``), for their names;
    ``pool``: how ``fit="tile"`` combines tile scores; ``classic_cache``: see
    :func:`score_set`; ``html_path``: the page of :func:`write_html`, showing at
    most ``html_pairs`` pairs per list.
    """
    from asna.evaluation.folders import check_output_file, model_files
    from asna.evaluation.scorer import QualityScorer, check_sources, inspect_models, resolve_fit

    for path, option in ((json_path, "--json"), (csv_path, "--csv"), (html_path, "--html")):
        if path:
            check_output_file(path, option)
    for path, option in ((plot_path, "--plot"), (type_plot, "--type-plot")):
        if path:
            check_figure_path(path, option)
    data = hdf5_set(data_file) if data_file else folder_set(ref_dir, dis_dir, labels, type_names)
    infos = inspect_models(model_paths)
    refuse_overlaps([("--json", json_path), ("--csv", csv_path), ("--plot", plot_path), ("--type-plot", type_plot),
                     ("--html", html_path)], [*data.inputs, *model_files(infos)])
    check_sources(infos, [scale_source] if scale_source or data.sources is None else data.sources)
    fit = resolve_fit(fit, infos)
    scorer = QualityScorer.load(infos, batch_size)
    predictions = score_set(scorer, data, tta, fit, scale_source, pool, classic_cache)
    report = build_report(data.mos, predictions, data.sources, data.types)
    pooled = f", pool {pool}" if fit == "tile" else ""
    print(f"{data.where}: {len(infos)} model(s), TTA {tta}, fit {fit}{pooled}")
    print(format_table(report, len(data.names), data.sources))
    types_text = format_types(report, data.types)
    if types_text:
        print("\n" + types_text)
    if json_path:
        print(f"wrote {write_json(json_path, report)}")
    if csv_path:
        print(f"wrote {write_csv(csv_path, per_pair_columns(data, predictions))}")
    if plot_path:
        print(f"wrote {plot_scatter(plot_path, data.mos, predictions, report, data.where)}")
    if type_plot:
        print(f"wrote {write_type_plot(type_plot, report, data.where)}" if BY_TYPE in report
              else f"{type_plot} not written: no per-type figures")
    if html_path:
        import time

        started = time.perf_counter()
        settings = f"{len(infos)} model(s) ({', '.join(i.path.name for i in infos)}), TTA {tta}, fit {fit}{pooled}"
        written = write_html(html_path, data, predictions, report, scorer, settings, html_pairs, tta, fit, pool,
                             scale_source)
        print(f"wrote {written} ({time.perf_counter() - started:.1f} s)")
    return report


def type_rows(report: dict[str, dict]) -> list[list[str]] | None:
    """The per-type table as text cells (header first), the best SRCC of each row in brackets."""
    from asna.evaluation.per_type import best_of, methods_of, type_label

    if BY_TYPE not in report:
        return None
    blocks = report[BY_TYPE]
    methods = methods_of(blocks)
    rows = [["type", "pairs", *[ROW_NAMES.get(m, m) for m in methods]]]
    for key, block in blocks.items():
        values = [block[m] for m in methods]
        best = best_of(values)
        rows.append([type_label(key, block["name"]), str(block["pairs"]),
                     *["n/a" if value is None or not math.isfinite(value) else
                       f"[{value:.4f}]" if index in best else f"{value:.4f}" for index, value in enumerate(values)]])
    return rows


def write_html(path: str | os.PathLike, data: LabelledSet, predictions: dict[str, np.ndarray],
               report: dict[str, dict], scorer, settings: str, cap: int = DEFAULT_HTML_PAIRS,
               tta: str = "none", fit: str = "tile", pool: str = DEFAULT_POOL,
               scale_source: str | None = None) -> Path:
    """The self-contained HTML page of a scored set (:mod:`asna.evaluation.html_report`).

    Its plots are drawn again into a temporary folder; the only scoring it adds
    is the quality maps of the (at most ``2 * cap``) pairs it shows.
    """
    import tempfile

    from asna.evaluation.html_report import PageData, data_notices, write_page
    from asna.evaluation.quality_map import quality_map

    def map_of(reference: np.ndarray, distorted: np.ndarray, index: int):
        source = scale_source if scale_source or data.sources is None else data.sources[index]
        return quality_map(scorer, reference, distorted, tta, source, fit, pool, data.names[index],
                           score=float(predictions["model"][index]))

    methods = [m for m in METHODS if m in predictions]
    with tempfile.TemporaryDirectory(prefix="asna-html-") as folder:
        scatter = plot_scatter(Path(folder) / "scatter.png", data.mos, predictions, report).read_bytes()
        types = (write_type_plot(Path(folder) / "types.png", report).read_bytes() if BY_TYPE in report else None)
    notes = ["* RMSE after a least-squares linear fit of the metric to the true scores",
             "-gmsd: GMSD is a distortion (lower = better); its figures are those of -GMSD"]
    if data.types is not None and data.types.note:
        notes.append(data.types.note)
    page = PageData(title=f"{data.where}: evaluation", settings=settings, names=data.names,
                    references=data.references, truth=data.mos,
                    values={m: np.asarray(predictions[m], np.float64) for m in methods},
                    oriented={m: oriented(m, predictions[m]) for m in methods}, report=json_safe(report),
                    row_names=ROW_NAMES, value_labels=LABELS, read_pair=data.read_pair, map_of=map_of,
                    scatter_png=scatter, types_png=types, type_table=type_rows(report), notes=notes,
                    notices=data_notices(data.places))
    return write_page(path, page, methods, cap)


def write_type_plot(path: str | os.PathLike, report: dict[str, dict], title: str = "") -> Path:
    """The report's per-type SRCC as grouped bars (one group per type, one bar per method)."""
    return plot_types(path, report[BY_TYPE], ROW_NAMES,
                      f"{title}: SRCC per distortion type" if title else "")
