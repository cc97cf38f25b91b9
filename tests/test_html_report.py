"""The HTML report of ``evaluation_dataset.py --html``: one self-contained page, checked as a file and in a browser.

A tiny trained model scores a small challenge folder (two types, three levels,
three references, a notice file beside it). The page must hold the metrics
table with the run's own numbers, both plots, the per-type table, and at most
``--html-pairs`` pairs per list, the ones with the largest rank gaps, each
with three embedded PNG images; nothing may point outside the file. Headless
Chromium then opens it and every image must load, with no console message.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from asna.evaluation import html_report
from asna.evaluation.report import run_dataset
from conftest import error_lines, run_in_process, run_script
from tiny_models import tiny_trained_model

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
NOTICE = "Test images: a notice that must travel with every copy."
IMG_SOURCE = re.compile(r'<img[^>]* src="([^"]*)"')


def make_folder(root: Path) -> Path:
    """``set/Ref``, ``set/Dis`` (``A000r_TT_LL.png``: type 1 noise, type 2 blur), labels, and a notice above."""
    rng = np.random.default_rng(1)
    folder = root / "set"
    (folder / "Ref").mkdir(parents=True)
    (folder / "Dis").mkdir()
    lines = []
    for r in (1, 2, 3):
        reference = cv2.GaussianBlur(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8), (0, 0), 1.0)
        cv2.imwrite(str(folder / "Ref" / f"A{r:04d}.png"), reference)
        for level in (1, 2, 3):
            noisy = np.clip(reference + rng.normal(0, 14 * level, reference.shape), 0, 255).astype(np.uint8)
            blurred = cv2.GaussianBlur(reference, (0, 0), 0.8 * level)
            for kind, image, score in ((1, noisy, 5.0 - level), (2, blurred, 4.6 - level + 0.1 * r)):
                name = f"A{r:04d}_{kind:02d}_{level:02d}.png"
                cv2.imwrite(str(folder / "Dis" / name), image)
                lines.append(f"{name},{score:.2f}")
    (folder / "labels.txt").write_text("\n".join(lines) + "\n")
    (root / "COPYRIGHT.txt").write_text(NOTICE + "\n")
    return folder


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    """The page of the folder (3 pairs a list), with the same run's JSON and CSV."""
    root = tmp_path_factory.mktemp("html")
    model = tiny_trained_model(tmp_path_factory.getbasetemp())
    folder = make_folder(root)
    out = root / "out"
    report = run_dataset(None, str(folder / "Ref"), str(folder / "Dis"), str(folder / "labels.txt"), [str(model)],
                         "none", "tile", None, 8, str(out / "r.json"), None, str(out / "pairs.csv"),
                         html_path=str(out / "page.html"), html_pairs=3, type_names="kadid")
    return {"page": out / "page.html", "text": (out / "page.html").read_text(encoding="utf-8"), "report": report,
            "json": json.loads((out / "r.json").read_text()), "csv": pd.read_csv(out / "pairs.csv"),
            "folder": folder, "model": model}


# ----------------------------------------------------------------------------- the file


def test_the_page_holds_the_runs_numbers_plots_and_types(made):
    text = made["text"]
    assert text.startswith("<!DOCTYPE html>")
    model = made["json"]["model"]
    row = re.search(r'<tr><td class="name">model</td>(.*?)</tr>', text).group(1)
    assert re.findall(r">([-\d.]+)\*?<", row)[:3] == [f"{model[k]:.4f}" for k in ("srcc", "plcc", "krcc")]
    for method in ("psnr", "ssim", "ms_ssim", "-gmsd", "haarpsi"):
        assert f'<td class="name">{method}</td>' in text
    assert 'alt="scatter plots"' in text and 'alt="SRCC per type"' in text
    assert "<td class=name>1 Gaussian blur</td>" in text or "<td class=name>1 " in text
    assert text.count("<h2>SRCC per distortion type</h2>") == 1 and ">pairs</th>" in text
    assert NOTICE in text


def test_every_image_is_embedded_and_nothing_points_outside(made):
    text = made["text"]
    sources = IMG_SOURCE.findall(text)
    assert len(sources) == 2 + 3 * 3 * 2  # two plots, then 3 pairs x 3 images in each of the two lists
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        image = cv2.imdecode(np.frombuffer(base64.b64decode(source.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.size > 0
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r'(src|href)="(?!data:)', text)
    assert "<script" not in text


def test_the_pairs_shown_are_those_with_the_largest_rank_gaps(made):
    from asna.data.images import read_rgb
    from asna.evaluation.scorer import QualityScorer

    table, text, folder = made["csv"], made["text"], made["folder"]
    pairs = [(read_rgb(folder / "Ref" / f"{name.split('_')[0]}.png"), read_rgb(folder / "Dis" / name))
             for name in table["name"]]
    scores = QualityScorer.from_paths([made["model"]]).score_pairs([r for r, _ in pairs], [d for _, d in pairs])
    ranks = lambda values: html_report.percentile_ranks(np.asarray(values, np.float64))  # noqa: E731
    gaps = np.abs(ranks(scores) - ranks(table["mos"]))
    expected = [table["name"][i] for i in sorted(range(len(gaps)), key=lambda i: (-gaps[i], i))[:3]]
    first_list = text.split("disagree most (3 pairs)")[1].split("<h2>")[0]
    assert re.findall(r"<b>\d\. ([^<]+)</b>", first_list) == expected
    best = max(("psnr", "ssim", "ms_ssim", "gmsd", "haarpsi"), key=lambda m: made["json"][m]["srcc"] or -2)
    assert f"the best baseline, {'-gmsd' if best == 'gmsd' else best}, disagree most" in text


def test_the_script_writes_the_page_with_its_cap(made, tmp_path, monkeypatch, capsys):
    folder = made["folder"]
    code, out, err = run_in_process("evaluation_dataset.py", [
        "--models", str(made["model"]), "--ref-dir", str(folder / "Ref"), "--dis-dir", str(folder / "Dis"),
        "--labels", str(folder / "labels.txt"), "--tta", "none", "--html", "page.html", "--html-pairs", "1"],
        monkeypatch, capsys, tmp_path)
    assert code == 0, err
    assert re.search(r"^wrote page\.html \(\d+\.\d s\)$", out, re.MULTILINE)
    assert len(IMG_SOURCE.findall((tmp_path / "page.html").read_text())) == 2 + 3 * 2
    assert not list(tmp_path.glob(".*partial*"))


def test_a_page_over_an_input_or_into_a_folder_is_refused(made, tmp_path):
    folder = made["folder"]
    labels = folder / "labels.txt"
    before = labels.read_bytes()
    common = ["--models", str(made["model"]), "--ref-dir", str(folder / "Ref"), "--dis-dir", str(folder / "Dis"),
              "--labels", str(labels)]
    over = run_script("evaluation_dataset.py", *common, "--html", str(labels), timeout=120)
    assert over.returncode == 2
    assert error_lines(over) == [f"error: {labels}: --html is the input --labels ({labels}); an output is never "
                                 f"written over an input, choose another --html"]
    assert labels.read_bytes() == before
    into = run_script("evaluation_dataset.py", *common, "--html", str(tmp_path), timeout=120)
    assert into.returncode == 2 and error_lines(into) == [f"error: {tmp_path}: is a folder; --html wants a file name"]
    cap = run_script("evaluation_dataset.py", *common, "--html", "p.html", "--html-pairs", "0", cwd=tmp_path)
    assert cap.returncode == 2 and "--html-pairs: 0 must be 1 or more" in cap.stderr


def test_the_demo_writes_a_page_for_each_kind_of_set(made, tmp_path):
    from asna.studies.demo import ReportedSet
    from conftest import write_tiny_pairs

    data = write_tiny_pairs(tmp_path / "test.h5", 12, seed=4)
    ReportedSet("a prepared file", data=data).report(made["model"], tmp_path / "run", "")
    ReportedSet("a folder", folder=made["folder"], fit="tile").report(made["model"], tmp_path / "run", "full_")
    for name in ("report.html", "full_report.html"):
        text = (tmp_path / "run" / name).read_text()
        assert '<table class="metrics">' in text and len(IMG_SOURCE.findall(text)) >= 2 + 3


# ----------------------------------------------------------------------------- the pieces


def test_ranks_gaps_and_the_best_baseline_by_hand():
    assert html_report.percentile_ranks(np.array([3.0, 1.0, 2.0, 2.0])).tolist() == [1.0, 0.0, 0.5, 0.5]
    assert np.isnan(html_report.percentile_ranks(np.array([1.0, np.nan, 2.0]))[1])
    model, labels = np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 2.0, 3.0, 1.0])
    assert html_report.largest_gaps(model, labels, 2) == [0, 3]
    assert html_report.largest_gaps(model, model, 10) == [0, 1, 2, 3]
    report = {"model": {"srcc": 0.8}, "psnr": {"srcc": 0.7}, "ssim": {"srcc": None}, "gmsd": {"srcc": 0.9}}
    assert html_report.best_baseline(report, ["model", "psnr", "ssim", "gmsd"]) == "gmsd"
    assert html_report.label_direction(report) == 1.0
    assert html_report.label_direction({"model": {"srcc": -0.6}}) == -1.0


def test_large_images_are_shrunk_and_small_ones_enlarged():
    image, width, height, enlarged = html_report.shown(np.zeros((600, 900, 3), np.uint8))
    assert image.shape == (256, 384, 3) and (width, height, enlarged) == (384, 256, False)
    image, width, height, enlarged = html_report.shown(np.zeros((32, 40, 3), np.uint8))
    assert image.shape == (32, 40, 3) and (width, height, enlarged) == (160, 128, True)  # 4 x: the long side 160


def test_notices_beside_the_data_are_found(tmp_path):
    (tmp_path / "Dis").mkdir()
    (tmp_path / "COPYRIGHT.txt").write_text("c")
    (tmp_path / "Dis" / "LICENSE").write_text("l")
    (tmp_path / "README.md").write_text("r")
    found = html_report.data_notices([str(tmp_path / "Dis"), str(tmp_path / "Dis" / "x.png")])
    assert sorted(text for _, text in found) == ["c", "l"]


# ----------------------------------------------------------------------------- in a real browser


def open_in_chromium(page: Path) -> tuple[dict, list[str]]:
    """What headless Chromium saw of ``page``: images (and how many failed to load), tables; its console lines.

    A harness page loads the report in a frame and reads it once everything has
    loaded (``--allow-file-access-from-files`` lets one local file read another);
    ``--dump-dom`` prints the harness with its finding.
    """
    with tempfile.TemporaryDirectory() as folder:
        harness = Path(folder) / "harness.html"
        harness.write_text(f"""<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="page" src="{page.resolve().as_uri()}" width="1200" height="900"></iframe>
<script>
window.addEventListener("load", () => {{
  const doc = document.getElementById("page").contentDocument;
  const images = doc ? Array.from(doc.images) : [];
  document.getElementById("result").textContent = JSON.stringify({{
    readable: !!doc, images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).length,
    tables: doc ? doc.querySelectorAll("table").length : 0}});
}});
</script></body></html>""")
        result = subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={Path(folder) / 'profile'}",
                                 "--allow-file-access-from-files", "--enable-logging=stderr", "--v=0",
                                 "--virtual-time-budget=10000", "--dump-dom", harness.as_uri()],
                                capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="result">([^<]*)</pre>', result.stdout)
    assert found, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return json.loads(found.group(1)), console


chromium_only = pytest.mark.skipif(not CHROMIUM.is_file(),
                                   reason="no /usr/bin/chromium (apt-get install -y chromium)")


@chromium_only
def test_the_page_renders_in_chromium(made):
    seen, console = open_in_chromium(made["page"])
    assert seen == {"readable": True, "images": 20, "broken": 0, "tables": seen["tables"]}
    assert seen["tables"] >= 2 + 6  # metrics, per type, and one per pair shown
    assert console == []


@chromium_only
def test_the_browser_check_finds_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                    f'content="{html_report.POLICY}"></head><body><table><tr><td>1</td></tr></table>'
                    '<img src="data:image/png;base64,AAAA"><img src="http://127.0.0.1:9/x.png"></body></html>')
    seen, console = open_in_chromium(page)
    assert seen["images"] == 2 and seen["broken"] == 2 and seen["tables"] == 1
    assert any("Content Security Policy" in line for line in console)
