"""Per-distortion-type figures: each method's SRCC over the pairs of one distortion type.

A pooled SRCC hides where a method fails: IQA papers report TID2013 and
KADID-10k per type as well (a metric can lead on the pool and trail on blur).
These figures reuse the per-pair values a report has already computed.

Where a pair's type comes from:

* prepared HDF5 files: the stored ``dist_type`` (layout version 2; version 1
  files fall back to the name, :func:`asna.data.layout.read_dist_types`);
  PieAPP pairs have none and are left out;
* challenge folders: the distorted image's name, :func:`folder_type`: a
  numbered type ``<ref>_<type>_<level>.<ext>`` (``A0001_10_03.bmp`` -> type
  10), or a named one, as human-rated sets name their files:
  ``<ref>_<type>_<rest>.<ext>`` with a type of letters (LIVE-style
  ``L01_gblur_img7.png`` -> ``gblur``; the rest is the set's own file name,
  not a level) or ``<ref>.<type>.<level>.<ext>`` (CSIQ-style
  ``1600.AWGN.1.png`` -> ``AWGN``). If a name follows none of these the folder
  gets no per-type figures, and one line says so.

Types are keyed by their id (``"10"``); in a file that mixes sources by
``source/id`` (``tid2013/8``), since one number means different types in
different sets. Names come from the set where it has them: the built-in set's
25 KADID-10k types and TID2008/TID2013's types.

A type with fewer than ``MIN_PAIRS`` pairs, or whose labels (or a method's
values) are all equal, gets NaN (``null`` in JSON, ``n/a`` in tables). On the
built-in set the labels are KADID's per-(type, level) means, so within one type
the SRCC is over the five levels' labels across references.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from asna.core import metrics
from asna.data.layout import type_from_name

MIN_PAIRS = 3
BY_TYPE = "by_type"
NAMINGS = ("kadid", "tid2008", "tid2013")  # sets whose type ids have names
SOURCE_NAMING = {"synthetic": "kadid", "tid2008": "tid2008", "tid2013": "tid2013"}
PATTERN = "<ref>_<type>_<level>.<ext>"
PATTERNS = f"{PATTERN}, <ref>_<named type>_<name>.<ext> or <ref>.<named type>.<level>.<ext>"
NAMED_UNDERSCORE = re.compile(r"^[^_]+_(?P<type>[A-Za-z][A-Za-z0-9]*)_[^.]+\.[A-Za-z0-9]+$")
NAMED_DOTS = re.compile(r"^[^._]+\.(?P<type>[A-Za-z][A-Za-z0-9]*)\.\d+\.[A-Za-z0-9]+$")
NAME_WIDTH = 30  # type column of the text table


@dataclass(frozen=True)
class PairTypes:
    """The distortion type of every pair of a labelled set (``""``: none), the types' names, and a note.

    ``note`` is one line for the report when some or all pairs have no type.
    """

    keys: list[str]
    names: dict[str, str | None] = field(default_factory=dict)
    note: str = ""

    @property
    def any(self) -> bool:
        return any(self.keys)


def type_names(naming: str | None) -> dict[int, str]:
    """``{type id: name}`` of a set (``kadid``, ``tid2008``, ``tid2013``); empty for None or others."""
    if naming == "kadid":
        from asna.data.distortions import DISTORTIONS

        return {kind.type_id: kind.name.replace("_", " ") for kind in DISTORTIONS}
    if naming in ("tid2008", "tid2013"):
        from asna.data.tid import TID2008_TYPES, TID2013_TYPES

        return dict(TID2008_TYPES if naming == "tid2008" else TID2013_TYPES)
    return {}


def _name_of(type_id: str, names: dict[int, str]) -> str | None:
    return names.get(int(type_id)) if type_id.isdigit() else None


def folder_type(name: str) -> str:
    """A folder image's type key from its name: a numbered type, else a named one; ``""`` for neither.

    Numbered (``A0001_10_03.bmp`` -> ``"10"``) comes first, so the built-in
    set's exports and TID keep their ids. Named types are kept as written
    (``L01_gblur_img7.png`` -> ``"gblur"``, ``1600.AWGN.1.png`` -> ``"AWGN"``):
    human-rated sets name a type but give no level a model could learn from.
    """
    numbered = type_from_name(name)
    if numbered:
        return numbered
    match = NAMED_UNDERSCORE.match(name) or NAMED_DOTS.match(name)
    return match["type"] if match else ""


def folder_types(names: Sequence[str], naming: str | None = None) -> PairTypes:
    """Types from file names (:func:`folder_type`); none at all when a name follows no pattern."""
    keys = [folder_type(name) for name in names]
    odd = [name for name, key in zip(names, keys) if not key]
    if odd:
        more = f" (nor do {len(odd) - 1} other names)" if len(odd) > 1 else ""
        return PairTypes([""] * len(names), {},
                         f"no per-type figures: {odd[0]} follows none of {PATTERNS}{more}")
    table = type_names(naming)
    return PairTypes(keys, {key: _name_of(key, table) for key in set(keys)})


def stored_types(types: Sequence[str], sources: Sequence[str]) -> PairTypes:
    """Types as an HDF5 file stores them, keyed ``source/type`` when the file mixes sources."""
    mixed = len(set(sources)) > 1
    keys = [f"{source}/{kind}" if mixed and kind else kind for kind, source in zip(types, sources)]
    names = {}
    for key, kind, source in zip(keys, types, sources):
        if key and key not in names:
            names[key] = _name_of(kind, type_names(SOURCE_NAMING.get(source)))
    untyped = sorted({source for source, key in zip(sources, keys) if not key})
    note = ""
    if untyped and not names:
        note = f"no per-type figures: the file stores no distortion types (source {', '.join(untyped)})"
    elif untyped:
        note = (f"{keys.count('')} pairs without a distortion type (source {', '.join(untyped)}) "
                f"are left out of the per-type figures")
    return PairTypes(keys, names, note)


def type_order(keys) -> list[str]:
    """Distinct non-empty keys, by source, then by number (``2`` before ``10``)."""
    def rank(key: str):
        source, _, kind = key.rpartition("/")
        return (source, 0, int(kind), "") if kind.isdigit() else (source, 1, 0, kind)
    return sorted({key for key in keys if key}, key=rank)


def type_srcc(y_true: np.ndarray, values: np.ndarray) -> float:
    """SRCC over one type's pairs; NaN under ``MIN_PAIRS`` pairs, with a missing value or constant scores."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < MIN_PAIRS or not np.all(np.isfinite(values)):
        return math.nan
    return metrics.srcc(y_true, values)


def type_blocks(y_true: np.ndarray, oriented: dict[str, np.ndarray], types: PairTypes) -> dict[str, dict]:
    """``{type: {"name", "pairs", method: SRCC, ...}}`` from per-pair values already oriented to grow with quality.

    Methods keep the order of ``oriented``.
    """
    keys = np.asarray(types.keys, dtype=object)
    truth = np.asarray(y_true, dtype=np.float64)
    blocks = {}
    for key in type_order(types.keys):
        chosen = keys == key
        block: dict = {"name": types.names.get(key), "pairs": int(chosen.sum())}
        for method, values in oriented.items():
            block[method] = type_srcc(truth[chosen], np.asarray(values)[chosen])
        blocks[key] = block
    return blocks


def methods_of(blocks: dict[str, dict]) -> list[str]:
    """The method keys of per-type blocks, in their order."""
    first = next(iter(blocks.values()), {})
    return [key for key in first if key not in ("name", "pairs")]


def type_label(key: str, name: str | None, width: int | None = None) -> str:
    """``10 JPEG``: the key and the type's name, cut to ``width`` characters."""
    text = f"{key} {name}" if name else key
    return text if width is None or len(text) <= width else text[:width - 3] + "..."


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def best_of(values: Sequence[float | None], decimals: int = 4) -> set[int]:
    """Positions of a row's highest value at the shown precision (ties all count); none when all are n/a."""
    shown = [round(value, decimals) if _finite(value) else None for value in values]
    finite = [value for value in shown if value is not None]
    return {i for i, value in enumerate(shown) if value is not None and value == max(finite)} if finite else set()


def format_type_table(blocks: dict[str, dict], labels: dict[str, str]) -> str:
    """Types as rows, methods as columns, the best SRCC of each row in brackets."""
    methods = methods_of(blocks)
    width = min(NAME_WIDTH, max([len(type_label(k, b["name"])) for k, b in blocks.items()] + [4]))
    lines = [f"SRCC per distortion type ({len(blocks)} types)",
             f"{'type':<{width}} {'pairs':>6} " + " ".join(f"{labels.get(m, m):>10}" for m in methods)]
    for key, block in blocks.items():
        values = [block[m] for m in methods]
        best = best_of(values)
        cells = [("n/a" if not _finite(v) else f"[{v:.4f}]" if i in best else f"{v:.4f} ")
                 for i, v in enumerate(values)]
        lines.append(f"{type_label(key, block['name'], width):<{width}} {block['pairs']:>6} "
                     + " ".join(f"{cell:>10}" for cell in cells))
    lines.append(f"[ ]: the best SRCC of the row; n/a: under {MIN_PAIRS} pairs, constant labels or a missing value")
    return "\n".join(lines)


def trailing_line(blocks: dict[str, dict], labels: dict[str, str], model: str = "model") -> str:
    """One line: the types where the model's SRCC is below the best baseline's, with both figures."""
    behind, compared = [], 0
    for key, block in blocks.items():
        baselines = {m: block[m] for m in methods_of(blocks) if m != model and _finite(block[m])}
        if model not in block or not _finite(block[model]) or not baselines:
            continue
        compared += 1
        leader = max(baselines, key=baselines.get)
        if block[model] < baselines[leader]:
            behind.append(f"{type_label(key, block['name'])} ({block[model]:.3f}; "
                          f"{labels.get(leader, leader)} {baselines[leader]:.3f})")
    name = labels.get(model, model)
    if not compared:
        return f"{name}: no type with figures to compare"
    if not behind:
        return f"{name} at or above the best baseline on all {compared} types"
    return f"{name} below the best baseline on {len(behind)} of {compared} types: " + ", ".join(behind)


def wins_line(blocks: dict[str, dict], labels: dict[str, str], model: str = "model") -> str:
    """One line: on how many types the model's SRCC is above each baseline's (types where both have one)."""
    counts = []
    for method in methods_of(blocks):
        if method == model:
            continue
        both = [b for b in blocks.values() if _finite(b.get(model)) and _finite(b.get(method))]
        counts.append(f"{labels.get(method, method)} on {sum(b[model] > b[method] for b in both)} of {len(both)}")
    return f"{labels.get(model, model)} above " + ", ".join(counts) + " types"


def plot_types(path: str | os.PathLike, blocks: dict[str, dict], labels: dict[str, str],
               title: str = "") -> Path:
    """A grouped bar plot: one group per type, one bar per method (its SRCC over the type's pairs)."""
    from asna.core.plots import plot_grouped_bars

    methods = methods_of(blocks)
    groups = [type_label(key, block["name"], NAME_WIDTH) for key, block in blocks.items()]
    series = {labels.get(m, m): [np.nan if not _finite(b[m]) else b[m] for b in blocks.values()] for m in methods}
    return plot_grouped_bars(path, groups, series, ylabel="SRCC over the type's pairs",
                             title=title or "SRCC per distortion type")


# ----------------------------------------------------------------------------- over several runs


def mean_sd(values: Sequence[float | None]) -> tuple[float, float, int]:
    """Mean, sample sd (0 with one value) and count of the finite values; NaN mean when there are none."""
    finite = [float(v) for v in values if _finite(v)]
    if not finite:
        return math.nan, math.nan, 0
    mean = sum(finite) / len(finite)
    sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)) if len(finite) > 1 else 0.0
    return mean, sd, len(finite)


def runs_mean_sd(runs: Sequence[dict[str, dict]], method: str) -> dict[str, tuple[float, float, int]]:
    """``{type: (mean, sd, count)}`` of one method's per-type SRCC over several runs' blocks."""
    keys = type_order(key for blocks in runs for key in blocks)
    return {key: mean_sd([blocks[key].get(method) for blocks in runs if key in blocks]) for key in keys}


def markdown_type_table(rows: dict[str, dict], columns: dict[str, dict[str, tuple[float, float | None]]],
                        decimals: int = 4) -> list[str]:
    """Markdown lines: a row per type (``rows``: key -> block with name and pairs), a column per title.

    A column maps a type to ``(mean, sd)`` (shown ``mean ± sd``) or ``(value, None)``;
    the best of each row (by mean) is in bold.
    """
    titles = list(columns)
    lines = ["| type | pairs | " + " | ".join(titles) + " |", "|---|---:|" + "---:|" * len(titles)]
    for key, block in rows.items():
        cells = [columns[title].get(key, (math.nan, None)) for title in titles]
        best = best_of([mean for mean, _ in cells], decimals)
        shown = []
        for i, (mean, sd) in enumerate(cells):
            text = "n/a" if not _finite(mean) else (f"{mean:.{decimals}f}" if sd is None or not _finite(sd)
                                                    else f"{mean:.{decimals}f} ± {sd:.{decimals}f}")
            shown.append(f"**{text}**" if i in best else text)
        lines.append(f"| {type_label(key, block.get('name'))} | {block.get('pairs', '')} | " + " | ".join(shown) + " |")
    return lines
