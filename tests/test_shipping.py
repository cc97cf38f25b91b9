"""ship_model.py: the check over seeds, the best-validation seed copied into models/, the card."""

import json
import subprocess
import sys

import pytest

from asna.core.errors import UserError
from asna.core.paths import REPO_ROOT
from asna.studies.shipping import chosen_run, read_study, ship, shipping_check

SETS = ("test", "xtest", "full")


def blocks(model: float, gmsd: float = 0.80, haarpsi: float = 0.82) -> dict:
    by_type = {"01": {"name": "gaussian blur", "pairs": 20, "model": model, "gmsd": gmsd, "haarpsi": haarpsi}}
    return {"model": {"srcc": model}, "gmsd": {"srcc": gmsd}, "haarpsi": {"srcc": haarpsi}, "by_type": by_type}


def write_run(study, seed: int, val_srcc: list[float], network: dict[str, float]) -> None:
    folder = study / f"auto_seed{seed}"
    folder.mkdir(parents=True)
    rows = ["epoch,loss,val_loss,val_srcc"] + [f"{i},1.0,{1.0 - v},{v}" for i, v in enumerate(val_srcc)]
    (folder / "log.csv").write_text("\n".join(rows) + "\n")
    metrics = {**blocks(network["test"]), "split": "test", "sets": list(SETS),
               **{name: blocks(network[name]) for name in SETS[1:]}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "model.keras").write_bytes(b"model of seed %d" % seed)
    (folder / "model.json").write_text(json.dumps({"network": "attention", "seed": seed}))
    (folder / "config.txt").write_text("[model]\nhead = pooled\n")


@pytest.fixture
def study(tmp_path):
    folder = tmp_path / "study"
    write_run(folder, 0, [0.70, 0.80], {"test": 0.86, "xtest": 0.87, "full": 0.84})
    write_run(folder, 1, [0.75, 0.83], {"test": 0.85, "xtest": 0.86, "full": 0.83})  # best validation
    write_run(folder, 2, [0.60, 0.79], {"test": 0.84, "xtest": 0.88, "full": 0.85})
    return folder


def test_the_check_uses_the_mean_over_seeds_and_the_choice_uses_validation_only(study):
    runs = read_study(study)
    assert [run.seed for run in runs] == [0, 1, 2]
    # the kept epoch is the one with the lowest val_loss, i.e. the highest val_srcc here
    assert [round(run.val_srcc, 2) for run in runs] == [0.80, 0.83, 0.79]
    passed, lines = shipping_check(runs)
    assert passed and len(lines) == 3 and lines[2].startswith("full: network 0.8400 (mean of 3)")
    assert chosen_run(runs).seed == 1  # not seed 2, which has the best full figure


def test_ship_copies_the_chosen_seed_and_writes_a_card(study, tmp_path):
    out = tmp_path / "models"
    model = ship(study, out, "make model")
    assert model.read_bytes() == b"model of seed 1"
    assert json.loads((out / "asna_built_in.json").read_text())["seed"] == 1
    card = (out / "README.md").read_text()
    assert "Command: `make model`" in card and "training seed 1" in card
    assert "| full | 0.8300 | 0.8400 ± 0.0100 | 0.8000 | 0.8200 |" in card
    assert "01 gaussian blur" in card and "What it is not" in card and "head = pooled" in card
    assert "(fully convolutional), trained on the built-in synthetic set" in card  # no classic map in its config
    assert not list(out.glob("*.partial*"))


def test_a_recipe_that_does_not_beat_the_rivals_everywhere_is_not_shipped(study, tmp_path):
    metrics = study / "auto_seed0" / "metrics.json"
    report = json.loads(metrics.read_text())
    report["full"] = blocks(0.70)  # the mean on full drops to 0.7933, below HaarPSI's 0.82
    metrics.write_text(json.dumps(report))
    out = tmp_path / "models"
    with pytest.raises(UserError, match="does not beat -GMSD and HaarPSI on every set; nothing shipped"):
        ship(study, out, "make model")
    assert not out.exists()
    ship(study, out, "make model", force=True)
    assert "Shipped with --force" in (out / "README.md").read_text()


def test_the_script_refuses_an_empty_study_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "ship_model.py"), "--study", str(tmp_path),
                             "--out", str(tmp_path / "models")], capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path}: no finished runs")
    assert not (tmp_path / "models").exists()


def test_on_live_dev_the_bar_is_the_shipped_model_and_the_rivals_are_only_shown(study):
    for seed, live in enumerate((0.93, 0.95, 0.94)):  # mean 0.94, below -GMSD's 0.97: not required
        metrics = study / f"auto_seed{seed}" / "metrics.json"
        report = json.loads(metrics.read_text())
        report.update(sets=[*SETS, "live_dev"], live_dev=blocks(live, gmsd=0.97, haarpsi=0.98))
        metrics.write_text(json.dumps(report))
    runs = read_study(study)
    passed, lines = shipping_check(runs, {"live_dev": 0.92})
    assert passed and lines[3] == ("live_dev: network 0.9400 (mean of 3), -GMSD 0.9700, HaarPSI 0.9800, "
                                   "shipped model 0.9200 -> above the shipped model")
    passed, lines = shipping_check(runs, {"live_dev": 0.945})
    assert not passed and lines[3].endswith("shipped model 0.9450 -> NOT above the shipped model")
    passed, lines = shipping_check(runs)  # no shipped model scored: reported, not checked
    assert passed and lines[3].endswith("-> reported (no shipped model scored here to compare)")


def test_the_card_describes_live_dev_when_the_study_reports_it(study, tmp_path):
    for seed in range(3):
        metrics = study / f"auto_seed{seed}" / "metrics.json"
        report = json.loads(metrics.read_text())
        report.update(sets=[*SETS, "live_dev"], live_dev=blocks(0.9))
        metrics.write_text(json.dumps(report))
    card = (tmp_path / "models" / "README.md")
    ship(study, tmp_path / "models", "make model", live_dev="none")  # no folder: no shipped model scored
    text = card.read_text()
    assert "| live_dev | 0.9000 | 0.9000 ± 0.0000 | 0.8000 | 0.8200 |" in text
    assert "live_dev: people's ratings (minus DMOS) of LIVE photographs" in text
    assert "### live_dev, per distortion type (this seed)" in text


def test_the_card_says_what_the_shipped_seed_trained_on_from_its_training_file(study, tmp_path):
    import h5py

    train = tmp_path / "synthetic_train_content_w1.h5"
    with h5py.File(train, "w") as handle:
        handle.attrs["photographs"] = json.dumps(["astronaut", "brick", "leaves_00", "texture_01"])
        handle.attrs["options"] = json.dumps({"image_size": 64, "procedural": 2})
        handle.attrs["labels"] = "content-aware: haarpsi, weight 1, across 0"
    (study / "auto_seed1" / "config.txt").write_text(f"[data]\ntrain = '{train}'\n\n[model]\nhead = pooled\n"
                                                   "classic_map = 'gms'\n")
    ship(study, tmp_path / "models", "make model")
    card = (tmp_path / "models" / "README.md").read_text()
    assert "(fully convolutional), GMSD's gradient-similarity map beside its features" in card
    assert ("moved within each condition by a classic metric (content-aware: haarpsi, weight 1, across 0, "
            "docs/data.md#content-aware-labels), given to synthetic distortions of 2 training photographs that "
            "come with scikit-image and 2 procedural images (dead leaves, textured leaves)") in card
    train.unlink()  # the file gone (a card made on another machine): the plain recipe's sentence
    ship(study, tmp_path / "models2", "make model")
    plain = (tmp_path / "models2" / "README.md").read_text()
    assert "KADID-10k's mean opinion score per (distortion type, level), given to synthetic distortions of 10 " \
           "training photographs that come with scikit-image; 3 more" in plain
