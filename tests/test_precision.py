"""training.precision: the auto pick, the policy a model gets, what stays float32, the records."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from asna.core.config import ConfigError, load_config
from asna.core.precision import all_layers, choose_precision, cpu_flags, precision_scope, resolve_precision
from conftest import run_script

TINY = ["model.image_size=32", "model.nfs=[4, 4, 8, 8, 8, 8, 8, 4, 4, 8]", "model.dense_num=8",
        "training.epochs=1", "training.steps_per_epoch=2", "training.batch_size=16"]


@pytest.mark.parametrize("gpus, flags, expected", [
    ([(8, 0)], set(), "mixed_float16"),
    ([(7, 0), (9, 0)], {"avx512_bf16"}, "mixed_float16"),
    ([(6, 1)], {"avx512_bf16"}, "float32"),  # the GPU computes, its float16 is slow
    ([(8, 0), None], set(), "float32"),
    ([], {"avx2", "avx512_bf16"}, "mixed_bfloat16"),
    ([], {"amx_tile", "amx_bf16"}, "mixed_bfloat16"),
    ([], {"avx2", "avx512f"}, "float32"),
])
def test_auto_pick(gpus, flags, expected):
    assert choose_precision(gpus, flags)[0] == expected


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16 amx_tile\n\nprocessor\t: 1\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512_bf16", "amx_tile"}
    assert cpu_flags(tmp_path / "missing") == set()


def test_named_precision_is_taken_as_is():
    assert resolve_precision("float32") == ("float32", "asked for")
    with pytest.raises(ValueError, match="float16"):
        resolve_precision("float16")


def test_old_key_is_refused_with_the_new_one():
    with pytest.raises(ConfigError, match=r"mixed_precision was replaced; use training.precision = auto \|"):
        load_config(None, ["training.mixed_precision=True"])
    assert load_config(None).training.precision == "auto"


def test_bfloat16_model_keeps_head_loss_and_ranker_float32():
    from asna.training.loop import compile_model

    config = load_config("configs/simple_pretrain.txt", TINY + ["training.init_weights=''"])
    with precision_scope("mixed_bfloat16") as name:
        assert name == "mixed_bfloat16"
        model = compile_model(config, init_weights=False)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored afterwards
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions and all(layer.compute_dtype == "bfloat16" for layer in convolutions)
    assert all(weight.dtype == "float32" for weight in model.weights)
    assert model.get_layer("score").compute_dtype == "float32"
    pairs = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    assert model((pairs, pairs)).dtype == "float32"
    ranker = model.loss.rank_function.__closure__
    ranker_models = [cell.cell_contents for cell in ranker if isinstance(cell.cell_contents, keras.Model)]
    assert ranker_models and all(layer.compute_dtype == "float32" for layer in ranker_models[0].layers)
    history = model.fit((pairs, pairs), np.linspace(-1, 1, 16).astype(np.float32), batch_size=16, epochs=1,
                        verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_training_records_the_pick(tmp_path, tiny_data):
    train, val = tiny_data
    run = tmp_path / "run"
    overrides = TINY + [f"data.train='{train}'", f"data.val='{val}'", "training.precision=mixed_bfloat16",
                        "data.intensity_augment=True", f"training.model_path='{run / 'model.keras'}'"]
    result = run_script("train_simple.py", "--config", "configs/simple_synthetic.txt",
                        *[item for override in overrides for item in ("--set", override)])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "training precision: mixed_bfloat16 (asked for)" in result.stdout
    assert "precision = 'mixed_bfloat16'" in (run / "config.txt").read_text()
    assert json.loads((run / "model.json").read_text())["precision"] == "mixed_bfloat16"


def test_evaluation_loads_a_float32_model_in_bfloat16(tmp_path):
    from asna.core.precision import use_inference_precision
    from asna.evaluation.scorer import ModelInfo, load_keras_model
    from asna.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model({"network": "attention", "image_size": 32, "nfs": [4, 4, 8, 8, 8, 8, 8, 4, 4, 8],
                         "dense_num": 8, "num_resblocks": 1})
    model.save(tmp_path / "model.keras")
    info = ModelInfo(tmp_path / "model.keras", "attention", 32, {"synthetic": (3.0, 1.0)})
    pairs = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    exact = load_keras_model(info).predict([pairs, pairs // 2], verbose=0)
    try:
        use_inference_precision("mixed_bfloat16")
        half = load_keras_model(info)
    finally:
        use_inference_precision("float32")
    dtypes = {layer.compute_dtype for layer in all_layers(half) if isinstance(layer, keras.layers.Conv2D)}
    assert dtypes == {"bfloat16"} and half.get_layer("score").compute_dtype == "float32"
    scores = half.predict([pairs, pairs // 2], verbose=0)
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, exact, atol=0.05)
    assert not np.array_equal(scores, exact)  # really computed in bfloat16


def test_evaluation_scores_a_bfloat16_model_in_float32_by_default(tmp_path):
    from asna.core.precision import policy_scope
    from asna.evaluation.scorer import ModelInfo, load_keras_model
    from asna.models import build_model

    keras.utils.set_random_seed(0)
    with policy_scope("mixed_bfloat16"):
        model = build_model({"network": "simple", "image_size": 32, "nfs": [4, 4, 8, 8, 8, 8, 8, 4, 4, 8],
                             "dense_num": 8})
    model.save(tmp_path / "model.keras")
    loaded = load_keras_model(ModelInfo(tmp_path / "model.keras", "simple", 32, {"synthetic": (3.0, 1.0)}))
    convolutions = [layer for layer in all_layers(loaded) if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions and all(layer.compute_dtype == "float32" for layer in convolutions)
