"""The main job on the built-in data: build the set, train ASNA, evaluate it beside the classic metrics.

Runs on a fresh machine with no download: the synthetic KADID-style set is
cut from scikit-image's photographs, the attention network trains from
``configs/attention_synthetic.txt`` with the committed ranker on the training
photographs, picking its best epoch on the validation photographs, and is
scored on the test photographs, which neither step saw: on the test file
(the generator's own distortion code), on the cross-test file (the same
photographs and labels, distortions made by a second, independent
implementation) and, as a user would score challenge images, from the test
pairs exported as a folder through the NTIRE scoring path.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import cv2

from asna import metrics
from asna.config import load_config
from asna.data.layout import decode_strings, open_pairs
from asna.evaluation.report import SHORT_NAMES



def add_demo_arguments(parser) -> None:
    """The options ``demo.py`` and ``benchmarks/demo_seeds.py`` share: data, config, sizes, overrides."""
    parser.add_argument("--data-dir", default="data/synthetic", help="where the built-in set is made or reused")
    parser.add_argument("--config", default="configs/attention_synthetic.txt", help="training config")
    parser.add_argument("--image-size", type=int, default=64, help="image side for data and network")
    parser.add_argument("--crops-per-image", type=int, default=4,
                        help="reference crops per validation/test photograph (training: twice as many)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a training config value (repeatable)")


def step(message: str) -> None:
    print(f"\n=== {message}", flush=True)


def build_data(data_dir: Path, image_size: int, crops_per_image: int, seed: int) -> dict[str, Path]:
    """The built-in set's four files, made once and reused while they match the requested options."""
    from tqdm import tqdm

    from asna.data import synthetic

    files = {name: data_dir / f"synthetic_{name}.h5" for name in synthetic.FILES}
    wanted = synthetic.generator_options(image_size, crops_per_image, seed,
                                         synthetic.make_variation(crops_per_image), synthetic.DEFAULT_JITTER,
                                         synthetic.ALL_TYPES)
    if synthetic.built_options(data_dir) == wanted:
        print(f"using the existing {', '.join(str(path) for path in files.values())}")
        return files
    summary = synthetic.create_synthetic(
        data_dir, image_size=image_size, crops_per_image=crops_per_image, seed=seed,
        workers=synthetic.default_workers(),
        progress=lambda items, total: tqdm(items, total=total, unit="ref", desc="distorting"))
    print("\n".join(synthetic.summary_lines(summary, data_dir)))
    return files


def export_challenge_folder(data_file: Path, folder: Path) -> Path:
    """Write a prepared file's pairs as Ref/<ref>.bmp, Dis/<name>, labels.txt (name,score)."""
    (folder / "Ref").mkdir(parents=True, exist_ok=True)
    (folder / "Dis").mkdir(parents=True, exist_ok=True)
    lines = []
    with open_pairs(data_file) as handle:
        names, refs = decode_strings(handle["dist_name"][:]), decode_strings(handle["ref_id"][:])
        scores = handle["mos"][:]
        for index, (name, ref_id) in enumerate(zip(names, refs)):
            reference, distorted = handle["x"][index]
            reference_path = folder / "Ref" / f"{ref_id}.bmp"
            if not reference_path.exists():
                cv2.imwrite(str(reference_path), reference[..., ::-1])
            cv2.imwrite(str(folder / "Dis" / name), distorted[..., ::-1])
            lines.append(f"{name},{scores[index]:g}")
    (folder / "labels.txt").write_text("\n".join(lines) + "\n")
    return folder


def challenge_check(folder: Path, model: Path, out: Path, per_pair_csv: Path) -> dict[str, float]:
    """SRCC of the challenge-format scores against the folder's labels, beside PSNR and SSIM.

    PSNR and SSIM of the same pairs come from the dataset evaluation's per-pair CSV.
    """
    import pandas as pd

    from asna.evaluation.folders import read_labels, run_ntire

    output = run_ntire(str(folder / "Ref"), str(folder / "Dis"), str(out), [str(model)], tta="none",
                       fit="center", scale_source=None, batch_size=64)
    scores = pd.read_csv(output, header=None, names=["name", "score"])
    scores["key"] = scores["name"].str.lower()
    labels = read_labels(folder / "labels.txt")
    classic = pd.read_csv(per_pair_csv).assign(key=lambda table: table["name"].str.lower())
    table = scores.merge(classic[["key", "psnr", "ssim"]], on="key", validate="one_to_one")
    truth = table["key"].map(labels).to_numpy()
    return {"images": len(table), "model_srcc": metrics.srcc(truth, table["score"]),
            "psnr_srcc": metrics.srcc(truth, table["psnr"]), "ssim_srcc": metrics.srcc(truth, table["ssim"])}


def srcc_of(numbers: dict) -> float:
    """A method's SRCC, NaN when it has none (null in the report)."""
    value = numbers.get("srcc")
    return math.nan if value is None else float(value)


def verdict(reports: dict[str, dict]) -> str:
    """One line: on each file, the network's SRCC beside every baseline in its report, and whether it beats them."""
    parts, beaten_everywhere, missed = [], True, []
    for where, report in reports.items():
        model = srcc_of(report["model"])
        baselines = {method: srcc_of(numbers) for method, numbers in report.items() if method != "model"}
        parts.append(f"{where} network {model:.4f}, " + ", ".join(
            f"{SHORT_NAMES.get(method, method.upper())} {value:.4f}" for method, value in baselines.items()))
        for method, value in baselines.items():
            if not model > value and not math.isnan(value):
                beaten_everywhere = False
                missed.append(f"{SHORT_NAMES.get(method, method.upper())} on {where}")
    methods = ", ".join(SHORT_NAMES.get(m, m.upper()) for m in next(iter(reports.values())) if m != "model")
    outcome = (f"the network beats {methods} on {' and '.join(reports)}" if beaten_everywhere
               else f"the network does NOT beat {', '.join(missed)}")
    return "SRCC: " + "; ".join(parts) + f" -> {outcome}"


def run_demo(data_dir: str, out_dir: str, config_path: str, image_size: int, crops_per_image: int,
             seed: int, overrides: list[str]) -> dict:
    """Every step of ``make demo``; returns the metrics report (test, with the cross-test beside it)."""
    from asna.data.synthetic import file_photographs
    from asna.evaluation.report import run_dataset, write_json
    from asna.training import train

    started = time.perf_counter()
    out = Path(out_dir)
    step(f"1/5 built-in data set ({image_size} x {image_size}) in {data_dir}")
    files = build_data(Path(data_dir), image_size, crops_per_image, seed)
    step(f"2/5 training the attention network from {config_path} (best epoch chosen on validation)")
    config = load_config(config_path, [f"data.train='{files['train']}'", f"data.val='{files['val']}'",
                                       f"model.image_size={image_size}",
                                       f"training.model_path='{out / 'model.keras'}'", *overrides])
    model = train("attention", config, overwrite=True)
    step("3/5 evaluating on the test photographs beside the classic metrics")
    report = run_dataset(str(files["test"]), None, None, None, [str(model)], "none", "center", None, 64,
                         str(out / "metrics.json"), str(out / "scatter.png"), str(out / "predictions.csv"))
    step("4/5 evaluating on the cross-test set (test photographs, a second implementation of the distortions)")
    xtest = run_dataset(str(files["xtest"]), None, None, None, [str(model)], "none", "center", None, 64,
                        None, str(out / "xtest_scatter.png"), str(out / "xtest_predictions.csv"))
    step("5/5 scoring the test pairs as a challenge folder (evaluation_ntire.py's path)")
    folder = export_challenge_folder(files["test"], out / "challenge")
    check = challenge_check(folder, model, out / "challenge_output.txt", out / "predictions.csv")
    print(f"{check['images']} images scored from the folder: SRCC model {check['model_srcc']:.4f}, "
          f"PSNR {check['psnr_srcc']:.4f}, SSIM {check['ssim_srcc']:.4f}")
    photographs = file_photographs(files["test"])
    full = {**report, "split": "test", "photographs": photographs,
            "xtest": {**xtest, "photographs": file_photographs(files["xtest"])}, "challenge_folder": check}
    write_json(out / "metrics.json", full)
    print(f"\ntest photographs: {', '.join(photographs)}")
    print(f"demo finished in {(time.perf_counter() - started) / 60:.1f} min; results in {out}/")
    print(verdict({"test": report, "xtest": xtest}))
    return full
