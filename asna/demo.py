"""The main job on the built-in data: build the set, train ASNA, evaluate it beside PSNR/SSIM.

Runs on a fresh machine with no download: the synthetic KADID-style set is
cut from scikit-image's photographs, the attention network trains from
``configs/attention_synthetic.txt`` with the committed ranker, and the model is
scored on references it never saw, both from the HDF5 file and, as a user
would score challenge images, from an exported folder through the NTIRE
scoring path.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2

from asna import metrics
from asna.config import load_config
from asna.data.layout import decode_strings, open_pairs


def step(message: str) -> None:
    print(f"\n=== {message}", flush=True)


def build_data(data_dir: Path, image_size: int, crops_per_image: int, seed: int) -> tuple[Path, Path]:
    """The built-in set, made once and reused when its files are already there."""
    from tqdm import tqdm

    from asna.data import synthetic

    train, val = data_dir / "synthetic_train.h5", data_dir / "synthetic_val.h5"
    if train.exists() and val.exists():
        with open_pairs(train) as handle:
            if int(handle.attrs["image_size"]) == image_size:
                print(f"using the existing {train} and {val}")
                return train, val
    summary = synthetic.create_synthetic(
        data_dir, image_size=image_size, crops_per_image=crops_per_image, seed=seed,
        workers=synthetic.default_workers(),
        progress=lambda items, total: tqdm(items, total=total, unit="ref", desc="distorting"))
    print("\n".join(synthetic.summary_lines(summary, data_dir)))
    return train, val


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


def run_demo(data_dir: str, out_dir: str, config_path: str, image_size: int, crops_per_image: int,
             seed: int, overrides: list[str]) -> dict:
    """Every step of ``make demo``; returns the metrics report."""
    from asna.evaluation.report import run_dataset, write_json
    from asna.training import train

    started = time.perf_counter()
    out = Path(out_dir)
    step(f"1/4 built-in data set ({image_size} x {image_size}) in {data_dir}")
    train_file, val_file = build_data(Path(data_dir), image_size, crops_per_image, seed)
    step(f"2/4 training the attention network from {config_path}")
    config = load_config(config_path, [f"data.train='{train_file}'", f"data.val='{val_file}'",
                                       f"model.image_size={image_size}",
                                       f"training.model_path='{out / 'model.keras'}'", *overrides])
    model = train("attention", config, overwrite=True)
    step("3/4 evaluating on the held-out references beside PSNR, SSIM and MS-SSIM")
    report = run_dataset(str(val_file), None, None, None, [str(model)], "none", "center", None, 64,
                         str(out / "metrics.json"), str(out / "scatter.png"), str(out / "predictions.csv"))
    step("4/4 scoring the held-out pairs as a challenge folder (evaluation_ntire.py's path)")
    folder = export_challenge_folder(val_file, out / "challenge")
    check = challenge_check(folder, model, out / "challenge_output.txt", out / "predictions.csv")
    print(f"{check['images']} images scored from the folder: SRCC model {check['model_srcc']:.4f}, "
          f"PSNR {check['psnr_srcc']:.4f}, SSIM {check['ssim_srcc']:.4f}")
    full = {**report, "challenge_folder": check}
    write_json(out / "metrics.json", full)
    model_srcc = report["model"]["srcc"]
    better = model_srcc > report["psnr"]["srcc"] and model_srcc > report["ssim"]["srcc"]
    print(f"\nheld-out SRCC: network {model_srcc:.4f}, PSNR {report['psnr']['srcc']:.4f}, "
          f"SSIM {report['ssim']['srcc']:.4f} -> the network "
          f"{'beats' if better else 'does NOT beat'} PSNR and SSIM")
    print(f"demo finished in {(time.perf_counter() - started) / 60:.1f} min; results in {out}/")
    return full
