"""The main job on the built-in data: build the set, train ASNA, evaluate it beside the classic metrics.

Runs on a fresh machine with no download: the synthetic KADID-style set is
cut from scikit-image's photographs, the attention network trains from
``configs/attention_synthetic.txt`` with the committed ranker on the training
photographs, picking its best epoch on the validation photographs, and is
scored on the test photographs, which neither step saw: on the test file
(the generator's own distortion code), on the cross-test file (the same
photographs and labels, distortions made by a second, independent
implementation), on the test photographs at their own resolution (``full``:
the ``full_test/`` folder, second implementation, scored as a user's folder is by
default: tiles of the network's size, pooled by the worse half) and, as a user
would score challenge images, from the test pairs exported as a folder through
the NTIRE scoring path. When the human-rated development folder is there
(``asna.data.human_rated``: LIVE photographs rated by people), it is reported
as ``live_dev`` beside the rest, scored like ``full``; when it is not, one line
says so and the other sets are reported as before.

The labelled sets it reports are a dict by name (:func:`reported_sets`): each
gets the full report (every method's figures, pooled and per distortion type),
its per-pair CSV, scatter plot, per-type bar plot and HTML page (``report.html``,
``xtest_report.html``, ``full_report.html``, ``live_dev_report.html``: the tables, the plots and the pairs
the network gets most wrong, with their quality maps), and a place in
``metrics.json`` and in the closing verdict line.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

from asna.core import metrics
from asna.core.config import load_config
from asna.data.layout import decode_strings, open_pairs, read_rows
from asna.evaluation import DEFAULT_FIT
from asna.evaluation.per_type import wins_line
from asna.evaluation.report import BY_TYPE, METHODS, SHORT_NAMES
from asna.studies.recipe import DemoRecipe

COPYRIGHT = "COPYRIGHT.txt"  # a rated folder's notice, copied beside every file that copies its labels


def step(message: str) -> None:
    print(f"\n=== {message}", flush=True)


def data_files(data_dir: Path) -> dict[str, Path]:
    """The built-in set's files in ``data_dir``, by name (``train``, ``val``, ``test``, ``xtest``)."""
    from asna.data.synthetic import FILES

    return {name: data_dir / f"synthetic_{name}.h5" for name in FILES}


def training_files(files: dict[str, Path], content_weight: float) -> dict[str, Path]:
    """``files`` with train and val swapped for their content-aware copies when ``content_weight`` is not 0
    (test, xtest and the folders keep KADID's means: every reported figure is against them or people)."""
    if not content_weight:
        return files
    from asna.data.content_labels import content_copy

    chosen = {name: content_copy(files[name], content_weight) for name in ("train", "val")}
    print(f"content-aware labels (HaarPSI, weight {content_weight:g}): {', '.join(map(str, chosen.values()))}")
    return {**files, **chosen}


def build_data(data_dir: Path, image_size: int, crops_per_image: int, seed: int,
               train_crops_per_image: int | None = None, procedural: int = 0) -> dict[str, Path]:
    """The built-in set's four files and its two full-resolution folders, made once and reused while
    they match the requested options (the folders are checked on their own: ``options.json``);
    ``procedural``: procedural training images (``--procedural``)."""
    from tqdm import tqdm

    from asna.data import synthetic
    from asna.data.full_resolution import build_full_resolution

    files = data_files(data_dir)
    wanted = synthetic.generator_options(image_size, crops_per_image, seed,
                                         synthetic.make_variation(crops_per_image, train_crops_per_image),
                                         synthetic.DEFAULT_JITTER,
                                         synthetic.ALL_TYPES, procedural)

    def progress(items, total):
        return tqdm(items, total=total, desc="distorting")

    if synthetic.built_options(data_dir) != wanted:
        summary = synthetic.create_synthetic(
            data_dir, image_size=image_size, crops_per_image=crops_per_image, seed=seed,
            train_crops_per_image=train_crops_per_image, workers=synthetic.default_workers(), full=True,
            progress=progress, procedural=procedural)
        print("\n".join(synthetic.summary_lines(summary, data_dir)))
        return files
    print(f"using the existing {', '.join(str(path) for path in files.values())}")
    for folder in build_full_resolution(data_dir, seed, synthetic.ALL_TYPES, workers=synthetic.default_workers(),
                                        progress=progress):
        print(f"{folder.line()} -> {folder.path}/")
    return files


def recipe_files(recipe: DemoRecipe, seed: int) -> dict[str, Path]:
    """The files a run of ``recipe`` reads: the built-in set made or reused (:func:`build_data`, data set
    ``seed``), train and val swapped for their content-aware copies when it asks (:func:`training_files`)."""
    return training_files(build_data(Path(recipe.data_dir), recipe.image_size, recipe.crops_per_image, seed,
                                     recipe.train_crops_per_image, recipe.procedural), recipe.content_weight)


def export_challenge_folder(data_file: Path, folder: Path) -> Path:
    """Write a prepared file's pairs as Ref/<ref>.bmp, Dis/<name>, labels.txt (name,score)."""
    (folder / "Ref").mkdir(parents=True, exist_ok=True)
    (folder / "Dis").mkdir(parents=True, exist_ok=True)
    lines = []
    with open_pairs(data_file) as handle:
        names, refs = decode_strings(handle["dist_name"][:]), decode_strings(handle["ref_id"][:])
        scores = read_rows(handle["mos"])
        for index, (name, ref_id) in enumerate(zip(names, refs)):
            reference, distorted = read_rows(handle["x"], index)
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


@dataclass(frozen=True)
class ReportedSet:
    """One labelled set the demo reports: a prepared HDF5 file, or a challenge folder
    (``Ref/``, ``Dis/``, ``labels.txt``) scored as a user scores one."""

    title: str  # the step line says "evaluating on <title>"
    data: Path | None = None
    folder: Path | None = None
    fit: str = "center"  # how images other than the network's size are fed in (photographs: auto, whole or tile)
    type_names: str | None = "kadid"  # whose type ids a folder's names carry
    cache_dir: Path | None = None  # where its classic scores are kept, when not beside it (a shared folder)

    def report(self, model: Path, out: Path, prefix: str) -> dict:
        """The set's report; ``<prefix>predictions.csv``, ``<prefix>scatter.png``, ``<prefix>types.png`` and
        ``<prefix>report.html`` (the page to open in a browser) in ``out``."""
        from asna.evaluation.report import run_dataset

        folder = (None, None, None) if self.folder is None else (
            str(self.folder / "Ref"), str(self.folder / "Dis"), str(self.folder / "labels.txt"))
        notice = None if self.folder is None else self.folder / COPYRIGHT
        if notice is not None and notice.is_file():  # the per-pair CSV copies the labels: the notice goes too
            out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notice, out / f"{prefix}{COPYRIGHT}")
        return run_dataset(None if self.data is None else str(self.data), *folder, [str(model)], "none",
                           self.fit, None, 64, None, str(out / f"{prefix}scatter.png"),
                           str(out / f"{prefix}predictions.csv"), type_plot=str(out / f"{prefix}types.png"),
                           type_names=None if self.data is not None else self.type_names,
                           classic_cache=str(self.classic_cache()), html_path=str(out / f"{prefix}report.html"))

    def labelled_set(self):
        """The set's pairs as the report reads them (``asna.evaluation.report.LabelledSet``)."""
        from asna.evaluation.report import folder_set, hdf5_set

        if self.data is not None:
            return hdf5_set(self.data)
        return folder_set(str(self.folder / "Ref"), str(self.folder / "Dis"), str(self.folder / "labels.txt"),
                          self.type_names)

    def fill_classic_cache(self) -> bool:
        """Compute the set's classic scores into :meth:`classic_cache` unless they are there; True when computed."""
        from asna.evaluation.report import fill_classic_cache

        return fill_classic_cache(self.labelled_set(), self.classic_cache())

    def classic_cache(self) -> Path:
        """Where the set's classic scores are kept between runs: beside the set, in the data folder."""
        where = self.data if self.data is not None else self.folder
        return (self.cache_dir or where.parent / ".classic_scores") / f"{where.name}.json"

    def photographs(self) -> list[str] | None:
        """The photographs an HDF5 file's references were cut from, or a full-resolution folder holds
        (None for other folders)."""
        from asna.data.full_resolution import folder_photographs
        from asna.data.synthetic import file_photographs

        return folder_photographs(self.folder) if self.data is None else file_photographs(self.data)


def reported_sets(data_dir: Path, live_dev: Path | None = None) -> dict[str, ReportedSet]:
    """The labelled sets the demo reports, by name; the first is ``metrics.json``'s top level.

    ``live_dev``: the human-rated folder, reported last under that name (its
    named types, ``gblur``, ``jpeg``, ``wn``, come from its file names).
    """
    files = data_files(data_dir)
    human = {} if live_dev is None else {
        "live_dev": ReportedSet("the human-rated development folder (LIVE photographs, people's scores)",
                                folder=live_dev, fit=DEFAULT_FIT, type_names=None,
                                cache_dir=data_dir / ".classic_scores")}
    return {"test": ReportedSet("the test photographs beside the classic metrics", data=files["test"]),
            "xtest": ReportedSet("the cross-test set (test photographs, a second implementation of the "
                                 "distortions)", data=files["xtest"]),
            "full": ReportedSet("the test photographs at their own resolution (second implementation, "
                                "scored as a folder)", folder=data_dir / "full_test", fit=DEFAULT_FIT),
            **human}


def set_reports(metrics_json: dict) -> dict[str, dict]:
    """Each set's report in a demo's ``metrics.json``, by name.

    The first set's blocks are the top level (``"split"`` names it), the others
    sit under their names; files written before ``"sets"`` hold test and xtest.
    """
    main = metrics_json.get("split", "test")
    names = metrics_json.get("sets", [main, "xtest"])
    return {name: metrics_json if name == main else metrics_json[name]
            for name in names if name == main or name in metrics_json}


def add_missing_sets(run_dir: Path, data_dir: Path, live_dev: Path | None = None) -> list[str]:
    """Report a finished run on the folder sets its ``metrics.json`` lacks (a set added after it ran,
    such as ``live_dev``), and write them into it; returns their names.

    Only folder sets whose folder is there are added, and only when the run's
    model is: a study made before a set existed gains its figures without
    training again.
    """
    from asna.evaluation.report import write_json

    metrics_path, model = run_dir / "metrics.json", run_dir / "model.keras"
    metrics_json = json.loads(metrics_path.read_text())
    have = set_reports(metrics_json)
    missing = {name: labelled for name, labelled in reported_sets(data_dir, live_dev).items()
               if name not in have and labelled.folder is not None and labelled.folder.is_dir()}
    if not missing or not model.is_file():
        return []
    for name, labelled in missing.items():
        step(f"{run_dir}: adding {labelled.title}")
        metrics_json[name] = {**labelled.report(model, run_dir, f"{name}_"),
                              "photographs": labelled.photographs()}
    metrics_json["sets"] = [*have, *missing]
    metrics_json.setdefault("split", next(iter(have)))
    write_json(metrics_path, metrics_json)
    return list(missing)


def srcc_of(numbers: dict) -> float:
    """A method's SRCC, NaN when it has none (null in the report)."""
    value = numbers.get("srcc")
    return math.nan if value is None else float(value)


def verdict(reports: dict[str, dict]) -> str:
    """One line: on each file, the network's SRCC beside every baseline in its report, and whether it beats them."""
    parts, beaten_everywhere, missed = [], True, []
    for where, report in reports.items():
        model = srcc_of(report["model"])
        baselines = {method: srcc_of(report[method]) for method in METHODS[1:] if method in report}
        parts.append(f"{where} network {model:.4f}, " + ", ".join(
            f"{SHORT_NAMES.get(method, method.upper())} {value:.4f}" for method, value in baselines.items()))
        for method, value in baselines.items():
            if not model > value and not math.isnan(value):
                beaten_everywhere = False
                missed.append(f"{SHORT_NAMES.get(method, method.upper())} on {where}")
    methods = ", ".join(SHORT_NAMES.get(m, m.upper()) for m in METHODS[1:] if m in next(iter(reports.values())))
    names = list(reports)
    where_all = " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"
    outcome = (f"the network beats {methods} on {where_all}" if beaten_everywhere
               else f"the network does NOT beat {', '.join(missed)}")
    return "SRCC: " + "; ".join(parts) + f" -> {outcome}"


def train_or_continue(config, keep_run: bool) -> Path:
    """Train from the start, or (``keep_run``) continue the folder's run: resume it, or reuse it when it
    has finished, so a seed study killed during training or evaluation loses no finished epoch."""
    from asna.training.loop import train
    from asna.training.run_state import RunFiles, read_state, run_finished

    files = RunFiles(config.training.model_path)
    state = read_state(files.backup) if keep_run else None
    if run_finished(state, config.training.epochs) and files.model.is_file():
        print(f"training finished before ({state.epochs} epochs): evaluating {files.model}")
        return files.model
    resume = state is not None and state.epochs > 0
    if resume:
        print(f"continuing the run in {files.folder} after epoch {state.epochs}")
    return train("attention", config, resume=resume, overwrite=not resume)


def run_demo(recipe: DemoRecipe, out_dir: str, seed: int, overrides: list[str], keep_run: bool = False) -> dict:
    """Every step of ``make demo``; returns the metrics report (test, with the other sets beside it).

    ``seed``: the built-in set's (``--seed``); ``overrides``: the training
    config's (``--set``). ``metrics.json`` is written last, so its presence
    means the run finished. ``keep_run`` continues a training run already in
    ``out_dir`` instead of starting it again (:func:`train_or_continue`).
    """
    from asna.data.human_rated import live_dev_folder
    from asna.evaluation.report import write_json

    started = time.perf_counter()
    out = Path(out_dir)
    human, note = live_dev_folder(recipe.live_dev)
    if note:
        print(note)
    sets = reported_sets(Path(recipe.data_dir), human)
    total = len(sets) + 3
    step(f"1/{total} built-in data set ({recipe.image_size} x {recipe.image_size}) in {recipe.data_dir}")
    files = recipe_files(recipe, seed)
    step(f"2/{total} training the attention network from {recipe.config_path} (best epoch chosen on validation)")
    config = load_config(recipe.config_path, [f"data.train='{files['train']}'", f"data.val='{files['val']}'",
                                              f"model.image_size={recipe.image_size}",
                                              f"training.model_path='{out / 'model.keras'}'", *overrides])
    model = train_or_continue(config, keep_run)
    main, *others = sets
    reports = {}
    for number, (name, labelled) in enumerate(sets.items(), start=3):
        step(f"{number}/{total} evaluating on {labelled.title}")
        reports[name] = labelled.report(model, out, "" if name == main else f"{name}_")
    step(f"{total}/{total} scoring the test pairs as a challenge folder (evaluation_ntire.py's path)")
    folder = export_challenge_folder(files["test"], out / "challenge")
    check = challenge_check(folder, model, out / "challenge_output.txt", out / "predictions.csv")
    print(f"{check['images']} images scored from the folder: SRCC model {check['model_srcc']:.4f}, "
          f"PSNR {check['psnr_srcc']:.4f}, SSIM {check['ssim_srcc']:.4f}")
    photographs = sets[main].photographs()
    full = {**reports[main], "split": main, "photographs": photographs, "sets": list(sets),
            **{name: {**reports[name], "photographs": sets[name].photographs()} for name in others},
            "challenge_folder": check}
    write_json(out / "metrics.json", full)
    print(f"\n{main} photographs: {', '.join(photographs or [])}")
    for name, report in reports.items():
        if BY_TYPE in report:
            print(f"per type, {name}: {wins_line(report[BY_TYPE], SHORT_NAMES)}")
    print(f"demo finished in {(time.perf_counter() - started) / 60:.1f} min; results in {out}/")
    print(verdict(reports))
    return full
