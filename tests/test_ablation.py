"""The ablation runner end to end on 16 px pairs: results, summary, plot, resume, bad input."""

from __future__ import annotations

import pandas as pd
import pytest

import numpy as np

from asna.core.errors import UserError
from asna.data.layout import PairWriter
from asna.studies.ablation import COLUMNS, TYPE_COLUMNS, Grid, cell_config, parse_names, run_grid
from conftest import error_lines, run_script, write_tiny_pairs

SIZE = 16


def write_typed_pairs(path, seed: int) -> None:
    """20 pairs: two references x KADID types 1 and 11 x five levels of noise, the label falling with the level."""
    rng = np.random.default_rng(seed)
    with PairWriter(path, SIZE, {"synthetic": (3.0, 1.0)}, "val", seed) as writer:
        for reference_number in (1, 2):
            reference = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
            for kind in (1, 11):
                for level in range(1, 6):
                    noisy = np.clip(reference + rng.normal(0, 10 * level, reference.shape), 0, 255).astype(np.uint8)
                    name = f"A{reference_number:04d}_{kind:02d}_{level:02d}.bmp"
                    writer.append(reference, noisy, 5.0 - 0.8 * level, name, f"A{reference_number:04d}", "synthetic",
                                  dist_type=str(kind))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    write_tiny_pairs(folder / "synthetic_train.h5", 32, image_size=SIZE, seed=0)
    for seed, split in enumerate(("val", "test", "xtest"), start=1):
        write_typed_pairs(folder / f"synthetic_{split}.h5", seed)
    return folder


def grid(data_dir, out, networks=("simple",), losses=("mse", "softrank")) -> Grid:
    return Grid(networks=networks, losses=losses, seeds=1, image_size=SIZE, epochs=1, steps_per_epoch=2,
                data_dir=data_dir, out=out)


def test_runs_the_grid_writes_every_output_and_resumes(data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    results = run_grid(grid(data_dir, out))
    table = pd.read_csv(results)
    assert list(table.columns) == list(COLUMNS)
    assert [tuple(row) for row in table[["network", "loss", "seed"]].itertuples(index=False)] == [
        ("simple", "mse", 0), ("simple", "softrank", 0)]
    assert table[["val_srcc", "test_srcc", "test_plcc", "xtest_srcc"]].abs().le(1).all().all()
    assert (table["seconds"] > 0).all()
    summary = (out / "summary.md").read_text()
    assert "| simple | softrank | 1 |" in summary and "| gmsd |" in summary and "± 0.000" in summary
    assert summary.count(" / no |") + summary.count(" / yes |") == 2  # each cell set beside -GMSD
    assert (out / "ablation.png").stat().st_size > 0
    assert not list(out.glob(".*partial*"))
    types = pd.read_csv(out / "types.csv", dtype={"type": str})
    assert list(types.columns) == list(TYPE_COLUMNS) and len(types) == 2 * 2 * 2  # cells x splits x types
    assert set(types["name"]) == {"GBLUR", "AWGN"} and (types["pairs"] == 10).all()
    for split in ("test", "xtest"):
        section = summary.split(f"## {split}: SRCC per distortion type")[1].split("## ")[0]
        assert "| type | pairs | simple mse | simple softrank | PSNR | SSIM | MS-SSIM | -GMSD | HaarPSI |" in section
        row = next(line for line in section.splitlines() if line.startswith("| 11 AWGN | 10 |"))
        cell = types[(types["split"] == split) & (types["type"] == "11") & (types["loss"] == "mse")]
        assert f"{cell['srcc'].iloc[0]:.3f} ± 0.000" in row  # one seed: sd 0
        psnr = float(row.split("|")[5].strip(" *"))
        assert psnr > 0.9  # noise that grows with the level, labels that fall with it
    capsys.readouterr()

    before = (out / "results.csv").read_text()
    run_grid(grid(data_dir, out, losses=("mse", "softrank", "mse_plcc")))  # one new cell only
    assert "2 already in" in capsys.readouterr().out
    after = pd.read_csv(out / "results.csv")
    assert len(after) == 3 and after["loss"].tolist()[-1] == "mse_plcc"
    assert len(pd.read_csv(out / "types.csv")) == 3 * 2 * 2  # the new cell's types added, none repeated
    assert (out / "results.csv").read_text().startswith(before.rstrip("\n").split("\n")[0])
    assert after.iloc[:2].equals(pd.read_csv(pd.io.common.StringIO(before)))
    changed = Grid(("simple",), ("mse",), 1, SIZE, 2, 2, data_dir, out)  # two epochs: not comparable
    with pytest.raises(UserError, match="other settings \\(epochs 1 -> 2\\)"):
        run_grid(changed)


def test_cell_configs_set_the_loss_terms(data_dir, tmp_path):
    settings = grid(data_dir, tmp_path, networks=("bn",))
    mse, mix = cell_config(settings, "bn", "mse", 0).loss, cell_config(settings, "bn", "mse_plcc", 0).loss
    learned, soft = cell_config(settings, "bn", "learned", 2).loss, cell_config(settings, "bn", "softrank", 0).loss
    assert (mse.mse_factor, mse.spearman_factor) == (1.0, 0.0)
    assert mix.mse_factor < 1.0 and mix.spearman_factor == 0.0
    assert learned.ranker == "learned" and soft.ranker == "softrank"
    assert learned.spearman_factor > 0 and learned.mse_factor == mix.mse_factor
    config = cell_config(settings, "tiled", "mse", 1)
    assert config.model.image_size == SIZE and SIZE % config.model.tile_size == 0
    assert config.training.seed == 1 and config.training.steps_per_epoch == 2
    assert config.training.precision == "auto"
    bfloat16 = Grid(("bn",), ("mse",), 1, SIZE, 1, 2, data_dir, tmp_path, precision="mixed_bfloat16")
    assert cell_config(bfloat16, "bn", "mse", 0).training.precision == "mixed_bfloat16"
    assert bfloat16.settings()["precision"] == "mixed_bfloat16"  # a grid in another precision is refused


def test_bad_input_is_one_line(data_dir, tmp_path):
    with pytest.raises(UserError, match="expected a comma-separated list"):
        parse_names("simple,vgg", ("simple", "bn"), "--networks")
    result = run_script("benchmarks/ablation.py", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert error_lines(result) == [f"error: {tmp_path / 'none' / 'synthetic_train.h5'}: not found; make the four "
                                   f"synthetic files with python prepare_dataset/create_data_synthetic.py "
                                   f"--out {tmp_path / 'none'}"]
    assert not (tmp_path / "o").exists()
    with pytest.raises(UserError, match="holds 16 x 16 pairs; set --image-size 16"):
        run_grid(Grid(("simple",), ("mse",), 1, 32, 1, 1, data_dir, tmp_path / "o2"))


def test_plot_range_holds_every_bar_error_bar_and_baseline():
    from asna.studies.ablation import srcc_range

    means = pd.DataFrame({"test_srcc": [0.80, 0.82], "xtest_srcc": [0.83, 0.84]})
    sds = pd.DataFrame({"test_srcc": [0.05, 0.01], "xtest_srcc": [0.0, 0.01]})
    baselines = {"test": {"gmsd": 0.81, "haarpsi": 0.70, "ms_ssim": float("nan")},
                 "xtest": {"gmsd": 0.9, "haarpsi": None}}
    assert srcc_range(means, sds, baselines) == (0.65, pytest.approx(0.93))


def test_a_full_resolution_folder_adds_full_srcc_and_old_results_still_summarise(data_dir, tmp_path, capsys):
    import shutil

    from asna.data.full_resolution import build_full_resolution
    from asna.studies.ablation import FULL_COLUMNS

    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    out = tmp_path / "out"
    run_grid(grid(data, out, losses=("mse",)))  # before the folder: the old columns
    assert list(pd.read_csv(out / "results.csv").columns) == list(COLUMNS)
    build_full_resolution(data, type_ids=(1, 11), max_side=32)  # 32 x 32 windows: two 16 px tiles a side
    run_grid(grid(data, out, losses=("mse", "softrank")))  # one new cell, the old row kept
    table = pd.read_csv(out / "results.csv")
    assert list(table.columns) == list(FULL_COLUMNS)
    assert np.isnan(table["full_srcc"].iloc[0]) and abs(table["full_srcc"].iloc[1]) <= 1
    summary = (out / "summary.md").read_text()
    assert "| val SRCC | test SRCC | test PLCC | xtest SRCC | full SRCC | mean above -GMSD (test / xtest / full) |" \
        in summary
    old_row = next(line for line in summary.splitlines() if line.startswith("| simple | mse | 1 |"))
    assert old_row.count("n/a") == 2  # its full SRCC and whether that is above -GMSD's
    assert "| method | test SRCC | xtest SRCC | full SRCC |" in summary
    assert "## full: SRCC per distortion type" in summary
    types = pd.read_csv(out / "types.csv", dtype={"type": str})
    assert set(types.loc[types["split"] == "full", "type"]) == {"1", "11"}
    assert (out / "ablation.png").stat().st_size > 0
