"""Text configs: defaults, types, overrides and one-line errors naming file, section and key."""

import pytest

from asna.core.config import SCHEMA, ConfigError, load_config
from conftest import error_lines, run_script


def write(tmp_path, text: str):
    path = tmp_path / "experiment.txt"
    path.write_text(text)
    return path


def test_defaults_cover_every_schema_key():
    config = load_config(None)
    for section, keys in SCHEMA.items():
        assert set(config.as_dict()[section]) == set(keys)
    assert config.model.nfs == [8, 16, 32, 64, 64, 64, 32, 16, 8, 32]
    assert config.training.batch_size == 16


def test_file_values_and_bare_strings(tmp_path):
    path = write(tmp_path, "[model]\nnetwork = bn\nimage_size = 64\nl2_reg = [0, 1e-2]\n"
                           "# a comment\n[loss]\nmse_factor = 0.5\n[training]\nmodel_path = 'runs/x.keras'\n")
    config = load_config(path)
    assert config.model.network == "bn"
    assert config.model.image_size == 64
    assert config.model.l2_reg == [0.0, 0.01]
    assert config.loss.mse_factor == 0.5
    assert config.training.model_path == "runs/x.keras"
    assert config.training.epochs == SCHEMA["training"]["epochs"].default


def test_overrides_win_over_the_file(tmp_path):
    path = write(tmp_path, "[training]\nepochs = 5\n")
    config = load_config(path, ["training.epochs=2", "model.alpha=0.7", "data.augment=False"])
    assert config.training.epochs == 2
    assert config.model.alpha == 0.7
    assert config.data.augment is False


@pytest.mark.parametrize("text, message", [
    ("[model]\nimage_sise = 64\n", "[model] image_sise: unknown key"),
    ("[modle]\nimage_size = 64\n", "unknown section [modle]"),
    ("[model]\nimage_size = 6.5\n", "[model] image_size: expected a whole number"),
    ("[model]\nimage_size = big\n", "[model] image_size: cannot read 'big'"),
    ("[model]\nnfs = [1, 2]\n", "[model] nfs: expected a list of whole numbers of length 10"),
    ("[model]\nnetwork = vgg\n", "[model] network: 'vgg' is not one of"),
    ("[training]\nmixed_precision = True\n", "[training] mixed_precision was replaced; use training.precision = auto"),
    ("[training]\nprecision = float16\n", "[training] precision: 'float16' is not one of auto, float32"),
    ("image_size = 64\n", "a key before any [section]"),
])
def test_bad_files_name_file_section_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"--set training\.epoch=3: \[training\] epoch: unknown key"):
        load_config(None, ["training.epoch=3"])
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_config(None, ["epochs=3"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.txt")


def test_resolved_config_round_trips(tmp_path):
    config = load_config(None, ["model.image_size=96", "loss.ranker=softrank"])
    config.save(tmp_path / "resolved.txt")
    again = load_config(tmp_path / "resolved.txt")
    assert again.as_dict() == config.as_dict()


def test_script_reports_a_config_error_in_one_line(tmp_path):
    path = write(tmp_path, "[model]\nnetwork = attention\nimage_sise = 64\n")
    result = run_script("train_attention.py", "--config", str(path))
    assert result.returncode == 2
    lines = error_lines(result)
    assert lines == [f"error: {path}: [model] image_sise: unknown key "
                     f"(known: {', '.join(SCHEMA['model'])})"]
    assert "Traceback" not in result.stderr
