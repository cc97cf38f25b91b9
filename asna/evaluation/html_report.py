"""The labelled-set report as one HTML file a browser opens with no network: tables, plots and the worst pairs.

A table of numbers says how well a metric ranks a set; it does not say which
pairs it gets wrong, or why. This page puts beside the numbers the pairs where
the model and the labels disagree most, and where the model and the best
baseline disagree most, each as reference, distorted image and quality map
(:mod:`asna.evaluation.quality_map`) with its label, its score and every
baseline's value.

* Disagreement is a gap of ranks, not of values, since the model, the labels
  and the baselines live on different scales: each is turned into its
  percentile rank over the set (0 worst, 1 best), and the pairs with the
  largest ``|rank(model) - rank(other)|`` are shown, at most ``cap`` of them.
* Everything is inside the file: images as base64 PNG ``data:`` URLs, styles
  inline, no script. A content security policy forbids every other source,
  so the page can neither fetch nor leak anything.
* Large images are shown at most :data:`MAX_SIDE` pixels a side (area
  resampling), small ones enlarged with pixelated scaling, so the file stays
  small and a 32 px crop is still visible.
* The page is made of what the evaluation has already computed; only the
  shown pairs are read and scored again, for their maps.
"""

from __future__ import annotations

import base64
import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from asna.core.paths import atomic_write
from asna.evaluation.map_figure import colour_stops, overlay, value_range
from asna.evaluation.quality_map import QualityMap

MAX_SIDE = 384
"""Images larger than this (either side) are shown shrunk to it."""

MIN_SIDE = 160
"""Images smaller than this are shown enlarged (pixelated) to at least it."""

NOTICE_NAMES = ("copyright", "license", "licence", "notice")
"""Files beside the data whose text travels with a report made from it (e.g. a database's copyright)."""

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1400px;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f2f2f2}
td.name,th.name{text-align:left}b.best{color:#064}
.note{color:#555;font-size:.85em}.pair{border:1px solid #ddd;margin:1em 0;padding:.6em}
.images{display:flex;flex-wrap:wrap;gap:.8em}.images figure{margin:0}
figcaption{font-size:.8em;color:#444}img.pixelated{image-rendering:pixelated}
.bar{height:12px;width:320px;display:inline-block;vertical-align:middle;border:1px solid #999}
pre{white-space:pre-wrap;font-size:.75em;background:#f7f7f7;padding:.6em}
"""


@dataclass
class PageData:
    """What the page shows, all computed before: the set, its numbers and each method's per-pair values.

    ``values``: ``{method: (N,)}`` raw values (GMSD raw, lower = better);
    ``oriented``: the same grown with quality (GMSD negated), what ranks use;
    ``read_pair``: the (reference, distorted) uint8 images of pair ``i``;
    ``map_of``: the quality map of pair ``i``'s images ``(reference, distorted, i)``.
    """

    title: str
    settings: str
    names: list[str]
    references: list[str]
    truth: np.ndarray
    values: dict[str, np.ndarray]
    oriented: dict[str, np.ndarray]
    report: dict[str, dict]
    row_names: dict[str, str]
    value_labels: dict[str, str]
    read_pair: Callable[[int], tuple[np.ndarray, np.ndarray]]
    map_of: Callable[[np.ndarray, np.ndarray, int], QualityMap]
    scatter_png: bytes | None = None
    types_png: bytes | None = None
    type_table: list[list[str]] | None = None
    notes: list[str] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)


# ----------------------------------------------------------------------------- choosing pairs


def percentile_ranks(values: np.ndarray) -> np.ndarray:
    """Each value's rank over the set scaled to [0, 1] (ties share their mean rank); NaN stays NaN."""
    from scipy.stats import rankdata

    values = np.asarray(values, np.float64)
    ranks = np.full(len(values), np.nan)
    finite = np.isfinite(values)
    if finite.sum() > 1:
        ranks[finite] = (rankdata(values[finite]) - 1.0) / (finite.sum() - 1.0)
    return ranks


def largest_gaps(first: np.ndarray, second: np.ndarray, cap: int) -> list[int]:
    """The indices of at most ``cap`` pairs with the largest rank gap, largest first (ties by index)."""
    gaps = np.abs(percentile_ranks(first) - percentile_ranks(second))
    order = sorted((i for i in range(len(gaps)) if np.isfinite(gaps[i])), key=lambda i: (-gaps[i], i))
    return order[:cap]


def best_baseline(report: dict[str, dict], methods: Sequence[str]) -> str | None:
    """The baseline with the highest pooled SRCC (of the values grown with quality), or None."""
    scored = [(report[m]["srcc"], m) for m in methods
              if m != "model" and m in report and report[m]["srcc"] is not None and math.isfinite(report[m]["srcc"])]
    return max(scored)[1] if scored else None


def label_direction(report: dict[str, dict]) -> float:
    """+1 when the labels grow with quality as the model's score does (a MOS), -1 for a DMOS-like set."""
    srcc = report.get("model", {}).get("srcc")
    return -1.0 if srcc is not None and math.isfinite(srcc) and srcc < 0 else 1.0


# ----------------------------------------------------------------------------- pieces of HTML


def png_data_url(image: np.ndarray) -> str:
    """A uint8 RGB image as a base64 PNG ``data:`` URL."""
    import cv2

    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def bytes_data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def shown(image: np.ndarray) -> tuple[np.ndarray, int, int, bool]:
    """The image as embedded (shrunk past :data:`MAX_SIDE`), its display size, and whether it is enlarged."""
    import cv2

    height, width = image.shape[:2]
    if max(height, width) > MAX_SIDE:
        factor = MAX_SIDE / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return image, size[0], size[1], False
    if max(height, width) < MIN_SIDE:
        factor = math.ceil(MIN_SIDE / max(height, width))
        return image, width * factor, height * factor, True
    return image, width, height, False


def img_tag(image: np.ndarray, alt: str) -> str:
    embedded, width, height, enlarged = shown(image)
    style = ' class="pixelated"' if enlarged else ""
    return (f'<img{style} src="{png_data_url(embedded)}" width="{width}" height="{height}" '
            f'alt="{html.escape(alt)}">')


def number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def metrics_table(blocks: dict[str, dict], methods: Sequence[str], row_names: dict[str, str]) -> str:
    """Methods as rows, the five numbers as columns; each column's best in bold (lowest RMSE is not
    compared: the baselines' RMSE is after a fit, the model's is not)."""
    keys = (("srcc", "SRCC"), ("plcc", "PLCC"), ("krcc", "KRCC"), ("rmse", "RMSE"), ("main_score", "main score"))
    present = [m for m in methods if m in blocks]
    best = {}
    for key, _ in keys:
        if key == "rmse":
            continue
        finite = [blocks[m][key] for m in present if blocks[m][key] is not None and math.isfinite(blocks[m][key])]
        best[key] = max(finite) if finite else None
    head = "".join(f"<th>{label}</th>" for _, label in keys)
    rows = []
    for method in present:
        cells = []
        for key, _ in keys:
            value = blocks[method][key]
            text = number(value) + ("*" if key == "rmse" and method != "model" and number(value) != "n/a" else "")
            cells.append(f"<td><b class=best>{text}</b></td>" if best.get(key) is not None and value == best[key]
                         else f"<td>{text}</td>")
        rows.append(f'<tr><td class="name">{html.escape(row_names.get(method, method))}</td>{"".join(cells)}</tr>')
    return f'<table class="metrics"><tr><th class="name">method</th>{head}</tr>{"".join(rows)}</table>'


def grid_table(rows: list[list[str]], header: bool = True) -> str:
    """A plain table from text cells; the first row is the header, the first column names."""
    out = []
    for index, row in enumerate(rows):
        tag = "th" if header and index == 0 else "td"
        cells = "".join(f'<{tag}{" class=name" if column == 0 else ""}>{html.escape(cell)}</{tag}>'
                        for column, cell in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    return f'<table>{"".join(out)}</table>'


def colour_bar(low: float, high: float) -> str:
    stops = ", ".join(colour_stops())
    return (f'<p class="note">quality map: local score, worse = warmer, on one scale for every map of the page: '
            f'{low:.3f} <span class="bar" style="background:linear-gradient(to right, {stops})"></span> '
            f'{high:.3f} (higher is better); dimmed pixels were not seen by the model</p>')


# ----------------------------------------------------------------------------- the page


def pair_section(page: PageData, title: str, explanation: str, indices: list[int], other: str,
                 other_values: np.ndarray, truth: np.ndarray,
                 maps: dict[int, tuple[np.ndarray, np.ndarray, QualityMap]], low: float, high: float) -> str:
    """One list of pairs: images side by side, then label, score and every baseline with their ranks."""
    ranks = {"label": percentile_ranks(truth), "other": percentile_ranks(other_values),
             **{method: percentile_ranks(values) for method, values in page.oriented.items()}}
    parts = [f"<h2>{html.escape(title)}</h2>", f'<p class="note">{html.escape(explanation)}</p>']
    if not indices:
        parts.append('<p class="note">no pairs to show</p>')
    for place, index in enumerate(indices, start=1):
        name = page.names[index]
        reference, distorted, drawn = maps[index]
        figures = "".join(
            f"<figure>{img_tag(image, f'{label} of {name}')}<figcaption>{html.escape(label)}</figcaption></figure>"
            for image, label in ((reference, f"reference {page.references[index]}"), (distorted, "distorted"),
                                 (overlay(distorted, drawn.values, low, high), "quality map")))
        rows = [["", "value", "rank (0 worst, 1 best)"],
                ["label", number(page.truth[index]), number(ranks["label"][index], 2)]]
        for method in page.values:
            label = "model score" if method == "model" else page.value_labels.get(method, method)
            rows.append([label, number(page.values[method][index]), number(ranks[method][index], 2)])
        gap = abs(ranks["model"][index] - ranks["other"][index])
        parts.append(f'<div class="pair"><b>{place}. {html.escape(name)}</b> '
                     f'<span class="note">rank gap to {html.escape(other)}: {number(gap, 2)}</span>'
                     f'<div class="images">{figures}</div>{grid_table(rows)}</div>')
    return "\n".join(parts)


def build_page(page: PageData, methods: Sequence[str], cap: int) -> str:
    """The whole HTML text of the report."""
    truth = label_direction(page.report) * np.asarray(page.truth, np.float64)
    by_label = largest_gaps(page.oriented["model"], truth, cap)
    rival = best_baseline(page.report, methods)
    by_rival = largest_gaps(page.oriented["model"], page.oriented[rival], cap) if rival else []
    maps = {}
    for index in dict.fromkeys(by_label + by_rival):
        reference, distorted = page.read_pair(index)
        maps[index] = (reference, distorted, page.map_of(reference, distorted, index))
    low, high = value_range(*(drawn.values for *_, drawn in maps.values()))
    sections = [f"<h1>{html.escape(page.title)}</h1>",
                f'<p>{html.escape(page.settings)}; {len(page.names)} pairs</p>',
                "<h2>Metrics</h2>", metrics_table(page.report, methods, page.row_names)]
    for source, blocks in page.report.get("by_source", {}).items():
        sections += [f"<h3>source {html.escape(source)}</h3>", metrics_table(blocks, methods, page.row_names)]
    sections += [f'<p class="note">{html.escape(note)}</p>' for note in page.notes]
    if page.scatter_png:
        sections += ["<h2>Each method against the labels</h2>",
                     f'<img src="{bytes_data_url(page.scatter_png)}" alt="scatter plots" style="max-width:100%">']
    sections.append("<h2>SRCC per distortion type</h2>")
    if page.type_table:
        sections.append(grid_table(page.type_table))
    if page.types_png:
        sections.append(f'<img src="{bytes_data_url(page.types_png)}" alt="SRCC per type" style="max-width:100%">')
    if not page.type_table:
        sections.append('<p class="note">no per-type figures for this set</p>')
    sections.append(colour_bar(low, high))
    sections.append(pair_section(
        page, f"Where the model and the labels disagree most ({len(by_label)} pairs)",
        "pairs ordered by the gap between the model's rank and the label's rank over the set", by_label,
        "the label", truth, truth, maps, low, high))
    if rival:
        rival_name = page.row_names.get(rival, rival)
        sections.append(pair_section(
            page, f"Where the model and the best baseline, {rival_name}, disagree most ({len(by_rival)} pairs)",
            f"{rival_name} has the highest SRCC of the baselines; pairs ordered by the gap between the "
            f"model's rank and {rival_name}'s", by_rival, rival_name, page.oriented[rival], truth, maps, low, high))
    for source, text in page.notices:
        sections.append(f"<h2>Notice of the data: {html.escape(source)}</h2><pre>{html.escape(text)}</pre>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
            f"<title>{html.escape(page.title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(sections) + "\n</body></html>\n")


def write_page(path: str | os.PathLike, page: PageData, methods: Sequence[str], cap: int) -> Path:
    """Build the page and write it under a temporary name, renamed when complete."""
    text = build_page(page, methods, cap)
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def data_notices(places: Sequence[str | os.PathLike]) -> list[tuple[str, str]]:
    """``(file, text)`` of copyright, licence and notice files in the data's folders and the folder above.

    A database's terms often ask that its notice go with every copy of its
    images; a report embeds some, so it carries the notice too.
    """
    found: dict[Path, str] = {}
    for place in places:
        if not place:
            continue
        folder = Path(place) if Path(place).is_dir() else Path(place).parent
        for candidate in (folder, folder.parent):
            if not candidate.is_dir():
                continue
            for item in sorted(candidate.iterdir()):
                stem = item.name.lower().split(".")[0]
                if item.is_file() and stem in NOTICE_NAMES and item.resolve() not in found:
                    found[item.resolve()] = item.read_text(encoding="utf-8", errors="replace")[:20000]
    return [(str(path), text) for path, text in found.items()]
