"""Which tile pooling ranks a labelled folder best: one tile pass, pooled every way.

``benchmarks/tile_pooling.py`` scores a folder (``Ref/``, ``Dis/``,
``labels.txt``) once with ``fit="tile"``, keeps each pair's standardised tile
scores and its reference tiles' structure, and pools them with every method of
``POOL_METHODS``; so the figures differ by the pooling alone, never by a second
run's numerics. A free-size model also gets ``whole`` (the image in one
piece, a second pass), the fit ``auto`` gives it. ``--classic`` adds -GMSD and
HaarPSI of the same pairs, the baselines to beat at full resolution. When the
folder's names carry types (``asna.evaluation.per_type.folder_type``: numbered,
or named like LIVE's ``gblur``), every column's SRCC per type follows.
``DEFAULT_POOL`` is chosen from this benchmark on the full-resolution
validation folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from asna.core import metrics
from asna.evaluation import POOL_METHODS, pooling

CLASSIC_ROWS = {"-gmsd": "gmsd", "haarpsi": "haarpsi"}


def folder_pairs(folder: str | Path) -> tuple[list, np.ndarray]:
    """The labelled pairs of ``folder/Ref``, ``folder/Dis`` and ``folder/labels.txt``, with their labels."""
    from asna.evaluation.folders import labelled_pairs, match_pairs, read_labels

    folder = Path(folder)
    labels = folder / "labels.txt"
    return labelled_pairs(match_pairs(folder / "Ref", folder / "Dis"), read_labels(labels), labels)


def pooled_scores(scorer, pairs: Sequence, tta: str) -> tuple[dict[str, np.ndarray], int]:
    """``{method: scores on the sidecar's scale}`` of one tile pass, and the number of tiles scored."""
    from tqdm import tqdm

    from asna.evaluation.folders import pair_batches

    pooled: dict[str, list[np.ndarray]] = {method: [] for method in POOL_METHODS}
    tiles = 0
    with tqdm(total=len(pairs), unit="pair", disable=None) as bar:
        for chunk, references, distorted in pair_batches(pairs, scorer.batch_size):
            names = [str(pair.distorted) for pair in chunk]
            for pair in scorer.tile_scores(references, distorted, tta, "tile", names):
                structure = pooling.tile_structure(pair.reference_tiles)
                tiles += pair.scores.shape[1]
                for method in POOL_METHODS:
                    pooled[method].append(pooling.pool_scores(pair.scores, method, structure))
            bar.update(len(chunk))
    return {method: scorer.to_scale(np.stack(rows, axis=1)) for method, rows in pooled.items()}, tiles


def classic_columns(pairs: Sequence) -> dict[str, np.ndarray]:
    """-GMSD and HaarPSI of every pair, oriented so that higher is better."""
    from asna.evaluation.classic import classic_scores_for_pairs
    from asna.evaluation.folders import pair_batches
    from asna.evaluation.report import oriented

    columns: dict[str, list[float]] = {row: [] for row in CLASSIC_ROWS}
    for _, references, distorted in pair_batches(pairs, 8):
        values = classic_scores_for_pairs(references, distorted)
        for row, method in CLASSIC_ROWS.items():
            columns[row].extend(oriented(method, values[method]))
    return {row: np.asarray(values) for row, values in columns.items()}


def correlations(truth: np.ndarray, columns: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """SRCC and PLCC of each column against the labels."""
    return {name: {"srcc": float(metrics.srcc(truth, values)), "plcc": float(metrics.plcc(truth, values))}
            for name, values in columns.items()}


def type_figures(pairs: Sequence, truth: np.ndarray, columns: dict[str, np.ndarray]) -> dict[str, dict]:
    """Every column's SRCC per distortion type, from the names; empty when the names carry no type."""
    from asna.evaluation.per_type import folder_types, type_blocks

    types = folder_types([pair.name for pair in pairs])
    return type_blocks(truth, columns, types) if types.any else {}


def best_pool(rows: dict[str, dict[str, float]]) -> str:
    """The pooling method with the highest SRCC + PLCC (the challenge's main score)."""
    return max(POOL_METHODS, key=lambda method: rows[method]["srcc"] + rows[method]["plcc"])


def format_rows(rows: dict[str, dict[str, float]]) -> str:
    """A small fixed-width table: one row per column, SRCC, PLCC and their sum."""
    lines = [f"{'method':<16} {'SRCC':>7} {'PLCC':>7} {'SRCC+PLCC':>10}"]
    for name, numbers in rows.items():
        lines.append(f"{name:<16} {numbers['srcc']:>7.4f} {numbers['plcc']:>7.4f} "
                     f"{numbers['srcc'] + numbers['plcc']:>10.4f}")
    return "\n".join(lines)


def run(model: str, folder: str, tta: str = "none", batch_size: int = 16, whole: bool = True,
        classic: bool = False, json_path: str | None = None) -> dict:
    """Everything ``benchmarks/tile_pooling.py`` does: score once, pool every way, print, write."""
    from asna.evaluation.folders import check_output_file, pair_batches
    from asna.evaluation.report import json_safe, write_json
    from asna.evaluation.scorer import QualityScorer, check_sources, inspect_models

    if json_path:
        check_output_file(json_path, "--json")
    pairs, truth = folder_pairs(folder)
    infos = inspect_models([model])
    check_sources(infos, [None])
    scorer = QualityScorer.load(infos, batch_size)
    columns, tiles = pooled_scores(scorer, pairs, tta)
    columns = {f"tile/{method}": values for method, values in columns.items()}
    if whole and all(info.free_size for info in infos):
        batches = pair_batches(pairs, scorer.batch_size)
        columns["whole"] = np.concatenate([scorer.score_pairs(references, distorted, tta, None, "whole")
                                           for _, references, distorted in batches])
    if classic:
        columns.update(classic_columns(pairs))
    rows = correlations(truth, columns)
    by_type = type_figures(pairs, truth, columns)
    result = {"folder": str(folder), "model": str(model), "tta": tta, "pairs": len(pairs), "tiles": tiles,
              "methods": rows, "by_type": by_type,
              "best_pool": best_pool({method: rows[f"tile/{method}"] for method in POOL_METHODS})}
    print(f"{folder}: {len(pairs)} pairs, {tiles} tiles of {scorer.image_size} px, TTA {tta}")
    print(format_rows(rows))
    if by_type:
        from asna.evaluation.per_type import format_type_table

        print(format_type_table(by_type, {}))
    print(f"best tile pooling (SRCC + PLCC): {result['best_pool']}")
    if json_path:
        print(f"wrote {write_json(json_path, result)}")
    print(json.dumps(json_safe(result)))
    return result

