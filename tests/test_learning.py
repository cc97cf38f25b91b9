"""Training learns: each network's validation SRCC rises far above the untrained model's,
``training.init_weights`` starts a run from another run's weights, and undefined
validation correlations (a constant model) do not stop training.

Data: ``write_tiny_pairs`` (32 x 32 random references, Gaussian noise at five
levels, the score falling with the level), 96 training and 40 validation pairs.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from asna.core import metrics
from asna.core.config import load_config
from asna.data.layout import open_pairs

SMALL = ["model.image_size=32", "model.tile_size=16", "model.nfs=[8, 8, 8, 8, 8, 8, 8, 8, 8, 8]",
         "model.dense_num=8", "model.num_resblocks=1", "training.learning_rate=1e-3"]
SEED = 1  # an initialisation whose untrained SRCC is negative for every network


def tiny_config(network: str, tiny_data, *overrides: str):
    train, val = tiny_data
    return load_config(f"configs/{network}_synthetic.txt",
                       [f"data.train='{train}'", f"data.val='{val}'", *SMALL, f"training.seed={SEED}", *overrides])


def read(path):
    with open_pairs(path) as handle:
        return handle["x"][:], handle["y"][:], handle["mos"][:]


def val_srcc(model: keras.Model, pairs: np.ndarray, mos: np.ndarray) -> float:
    return metrics.srcc(mos, model.predict([pairs[:, 0], pairs[:, 1]], batch_size=40, verbose=0))


@pytest.mark.parametrize("network", ["simple", "bn", "attention", "tiled"])
def test_a_few_epochs_raise_validation_srcc_far_above_the_untrained_model(network, tiny_data, repo_root,
                                                                          monkeypatch):
    from asna.training.loop import compile_model

    monkeypatch.chdir(repo_root)
    (train_x, train_y, _), (val_x, _, val_mos) = read(tiny_data[0]), read(tiny_data[1])
    keras.utils.set_random_seed(SEED)
    model = compile_model(tiny_config(network, tiny_data))  # the config's loss, learned ranker included
    before = val_srcc(model, val_x, val_mos)
    history = model.fit([train_x[:, 0], train_x[:, 1]], train_y, batch_size=16, epochs=4, shuffle=True, verbose=0)
    after = val_srcc(model, val_x, val_mos)
    assert np.all(np.isfinite(history.history["loss"]))
    if network == "tiled":  # the ConvLSTM learns too slowly for a short test: it must train and vary
        assert history.history["loss"][-1] < history.history["loss"][0]
        assert np.isfinite(after)
        return
    assert before < 0.5 and after > 0.85 and after - before > 0.4, (before, after)


def test_init_weights_start_training_from_the_pretrained_run(tiny_data, tmp_path, repo_root, monkeypatch):
    from asna.training.loop import compile_model, train

    monkeypatch.chdir(repo_root)
    pretrained = train("simple", tiny_config("simple", tiny_data, "training.epochs=2", "training.steps_per_epoch=3",
                                             f"training.model_path='{tmp_path / 'pre' / 'model.keras'}'"),
                       overwrite=True)
    source = keras.models.load_model(pretrained, compile=False)
    fine = tiny_config("simple", tiny_data, "training.epochs=1", "training.steps_per_epoch=2",
                       "training.learning_rate=1e-12", f"training.init_weights='{pretrained}'",
                       f"training.model_path='{tmp_path / 'fine' / 'model.keras'}'")
    keras.utils.set_random_seed(7)  # a fresh network would get other weights
    loaded = compile_model(fine)
    for ours, theirs in zip(loaded.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # With a vanishing learning rate the first fine-tuning epoch scores what the pre-trained model scores.
    train("simple", fine, overwrite=True)
    val_x, _, val_mos = read(tiny_data[1])
    log = pd.read_csv(tmp_path / "fine" / "log.csv")
    assert log["val_srcc"].iloc[0] == pytest.approx(val_srcc(source, val_x, val_mos), abs=1e-6)


def test_constant_predictions_log_undefined_correlations_without_stopping(tiny_data, capsys):
    import tensorflow as tf

    from asna.training.loop import ValidationCorrelations

    val_x, val_y, _ = read(tiny_data[1])
    inputs = [keras.Input((32, 32, 3), dtype="uint8"), keras.Input((32, 32, 3), dtype="uint8")]
    flat = keras.layers.Flatten()(keras.layers.Concatenate()([keras.ops.cast(x, "float32") for x in inputs]))
    constant = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="ones")(flat))
    dataset = tf.data.Dataset.from_tensor_slices(((val_x[:, 0], val_x[:, 1]), val_y)).batch(16)
    callback = ValidationCorrelations(dataset, val_y)
    callback.set_model(constant)
    logs: dict = {}
    callback.on_epoch_end(0, logs)
    assert np.isnan(logs["val_srcc"]) and np.isnan(logs["val_plcc"]) and np.isnan(logs["val_main_score"])
    assert "SRCC nan" in capsys.readouterr().out
