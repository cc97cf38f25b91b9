"""``asna.PerceptualLoss``: the trained network as a differentiable, frozen Keras loss.

The loss must be exactly minus the metric's standardised score (tiles included,
on images whose sides are and are not multiples of the input), carry finite,
non-zero gradients to the restored image in float32 and bfloat16, leave the
network's weights (BatchNorm statistics included) unchanged while a denoiser
trains on it, and refuse bad batches in one line. A network whose input has no
fixed size is called on the whole image.
"""

from __future__ import annotations

import json
import runpy
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from asna.api.perceptual_loss import float_view, network_scores
from asna.core.errors import UserError
from asna.core.precision import policy_scope
from asna.models import build_model
from asna.models.layers import AbsoluteDifference, ScaleToUnitRange
import asna
from conftest import REPO_ROOT
from tiny_models import IMAGE_SIZE, MEAN, STD, noisy_pairs, tiny_trained_model, write_sidecar


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_trained_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def loss(model_path):
    return asna.PerceptualLoss(models=model_path)


@pytest.fixture(scope="module")
def bn_path(tmp_path_factory):
    """An untrained tiny BN network: BatchNorm statistics that training mode would move."""
    path = tmp_path_factory.mktemp("bn") / "bn.keras"
    keras.utils.set_random_seed(2)
    build_model({"network": "bn", "image_size": IMAGE_SIZE, "nfs": [8] * 10, "dense_num": 8}).save(path)
    write_sidecar(path, network="bn")
    return path


def as_float(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


@pytest.mark.parametrize("height, width", [(32, 32), (64, 64), (48, 40)])
def test_loss_is_minus_the_metrics_standardised_score_over_the_same_tiles(loss, model_path, height, width):
    references, noisy = noisy_pairs(3, size=64, sigma=20)
    references, noisy = references[:, :height, :width], noisy[:, :height, :width]
    metric = asna.load_metric(models=model_path, pool="mean")  # the loss pools tiles by the mean
    standardized = (metric.score(references, noisy) - MEAN) / STD
    per_image = loss.call(tf.constant(as_float(references)), tf.constant(as_float(noisy)))
    np.testing.assert_allclose(per_image.numpy(), -standardized, atol=2e-5)
    assert float(loss(as_float(references), as_float(noisy))) == pytest.approx(-standardized.mean(), abs=2e-5)


def gradient(loss, references: np.ndarray, restored: np.ndarray, dtype=tf.float32) -> tuple[float, np.ndarray]:
    variable = tf.Variable(tf.cast(as_float(restored), dtype))
    with tf.GradientTape() as tape:
        value = loss(tf.constant(as_float(references)), variable)
    return float(value), tape.gradient(value, variable).numpy().astype(np.float32)


def test_gradients_are_finite_and_lower_the_loss_when_followed(loss):
    references, noisy = noisy_pairs(4, size=48, sigma=20)
    value, grad = gradient(loss, references, noisy)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    assert np.count_nonzero(grad) > 0.5 * grad.size  # every tile passes gradient, overlaps included
    stepped = np.clip(as_float(noisy) - 0.02 * grad / np.abs(grad).max(), 0, 1)
    assert float(loss(as_float(references), stepped)) < value


def test_bfloat16_network_gives_finite_gradients_close_to_float32(model_path, loss):
    references, noisy = noisy_pairs(4, size=32, sigma=20)
    half = asna.PerceptualLoss(models=model_path, precision="mixed_bfloat16")
    assert half.networks[0].get_layer("dec1_conv").compute_dtype == "bfloat16"
    value, grad = gradient(half, references, noisy, dtype=tf.bfloat16)  # a bfloat16 restored batch too
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    assert value == pytest.approx(float(loss(as_float(references), as_float(noisy))), abs=0.05)


def tiny_denoiser() -> keras.Model:
    noisy = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(noisy)
    residual = keras.layers.Conv2D(3, 3, padding="same")(x)
    return keras.Model(noisy, keras.layers.Add()([noisy, residual]))


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_training_a_denoiser_leaves_the_networks_weights_unchanged(bn_path, precision):
    references, noisy = noisy_pairs(8, size=IMAGE_SIZE, sigma=20)
    with policy_scope(precision):
        keras.utils.set_random_seed(0)
        denoiser = tiny_denoiser()
        perceptual = asna.PerceptualLoss(models=bn_path, precision=precision)
        frozen = [weight.numpy().copy() for weight in perceptual.networks[0].weights]
        assert any("moving_mean" in weight.path for weight in perceptual.networks[0].weights)
        start = [weight.numpy().copy() for weight in denoiser.weights]
        denoiser.compile(optimizer=keras.optimizers.Adam(1e-3), loss=perceptual)
        history = denoiser.fit(as_float(noisy), as_float(references), batch_size=4, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert not perceptual.networks[0].trainable and not perceptual.networks[0].trainable_weights
    for before, weight in zip(frozen, perceptual.networks[0].weights, strict=True):
        np.testing.assert_array_equal(before, weight.numpy(), err_msg=weight.path)
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(start, denoiser.weights))


def free_size_model() -> keras.Model:
    """A Siamese-difference toy whose inputs have no fixed height and width, as a global head gives."""
    reference = keras.Input((None, None, 3), dtype="uint8", name="reference")
    distorted = keras.Input((None, None, 3), dtype="uint8", name="distorted")
    encoder = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
    features = [encoder(ScaleToUnitRange()(image)) for image in (reference, distorted)]
    pooled = keras.layers.GlobalAveragePooling2D()(AbsoluteDifference()(features))
    return keras.Model([reference, distorted], keras.layers.Dense(1)(pooled))


def test_a_free_size_network_scores_whole_images_and_wants_sides_of_16():
    keras.utils.set_random_seed(4)
    model = free_size_model()
    view = float_view(model)
    references, noisy = noisy_pairs(2, size=48, sigma=20)
    references, noisy = references[:, :48, :32], noisy[:, :48, :32]
    expected = model([references, noisy]).numpy().ravel()
    pixels = [tf.constant(images.astype(np.float32)) for images in (references, noisy)]
    np.testing.assert_allclose(network_scores(view, *pixels).numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(UserError, match="images are 32x40; this network takes sides that are a multiple of 16"):
        network_scores(view, pixels[0][:, :40], pixels[1][:, :40])


def test_bad_batches_are_refused_in_one_line(loss):
    references, noisy = noisy_pairs(2, size=IMAGE_SIZE)
    reference, restored = as_float(references), as_float(noisy)
    cases = [((reference[:, :20, :20], restored[:, :20, :20]), "images are 20x20, smaller than the network's 32x32"),
             ((np.concatenate([reference, reference[..., :1]], -1), restored), "images need 3 channels"),
             ((reference, restored[:, :, :16]), "differ in size"),
             ((reference[0], restored[0]), r"takes \(B, H, W, 3\) image batches"),
             ((references.astype(np.float32), restored), r"outside \[0, 1\].*\(found \[0, 255\]\)")]
    for (y_true, y_pred), message in cases:
        with pytest.raises(UserError, match=message) as raised:
            loss(y_true, y_pred)
        assert "\n" not in str(raised.value)
    traced = tf.function(lambda y_true, y_pred: loss(y_true, y_pred))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"PerceptualLoss: the reference batch"):
        traced(tf.constant(reference * 2 - 1), tf.constant(restored))
    assert np.isfinite(float(traced(tf.constant(reference), tf.constant(restored * 1.5 - 0.2))))  # clipped


def test_the_loss_serialises_with_its_model_paths(loss, model_path):
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, asna.PerceptualLoss) and again.model_paths == [str(model_path)]
    references, noisy = noisy_pairs(2, size=IMAGE_SIZE)
    assert float(again(as_float(references), as_float(noisy))) == pytest.approx(
        float(loss(as_float(references), as_float(noisy))), abs=1e-6)


def test_denoiser_example_lowers_the_loss_raises_the_score_and_keeps_psnr(model_path, tmp_path, monkeypatch,
                                                                          capsys):
    """examples/denoise_with_asna.py at a tiny size, run in this process (TensorFlow is loaded)."""
    out = tmp_path / "figures.json"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["denoise_with_asna.py", "--models", str(model_path), "--steps", "30",
                                      "--crop", "32", "--batch-size", "4", "--test-crops", "1", "--sigma", "20",
                                      "--json", str(out)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(REPO_ROOT / "examples" / "denoise_with_asna.py"), run_name="__main__")
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    figures = json.loads(out.read_text())
    before, after = figures["before"], figures["after"]
    assert after["perceptual_loss"] < before["perceptual_loss"], figures
    assert after["asna_score"] > before["asna_score"], figures
    assert after["psnr"] > before["psnr"] - 0.5, figures
    assert len(figures["training_perceptual_loss"]) == 10
    assert "perceptual loss" in printed and "denoised" in printed


def test_non_finite_restored_images_are_refused_not_turned_into_nan(loss):
    """NaN or inf in y_pred: one line eagerly, an InvalidArgumentError in a traced or compiled step."""
    references, noisy = noisy_pairs(2, size=IMAGE_SIZE)
    reference, restored = as_float(references), as_float(noisy)
    for bad in (np.nan, np.inf):
        broken = restored.copy()
        broken[1, 3, 4, 0] = bad
        with pytest.raises(UserError, match=r"^PerceptualLoss: the restored batch \(y_pred\) holds NaN or "
                                            r"infinite values") as raised:
            loss(reference, broken)
        assert "\n" not in str(raised.value)
        traced = tf.function(lambda y_true, y_pred: loss(y_true, y_pred))
        with pytest.raises(tf.errors.InvalidArgumentError, match="the restored batch"):
            traced(tf.constant(reference), tf.constant(broken))
    keras.utils.set_random_seed(0)
    poisoned = keras.Sequential([keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3)), keras.layers.Conv2D(3, 1),
                                 keras.layers.Lambda(lambda images: images * np.float32(np.nan))])
    poisoned.compile(optimizer="adam", loss=loss)
    with pytest.raises(tf.errors.InvalidArgumentError, match="the restored batch"):
        poisoned.fit(restored, reference, batch_size=2, epochs=1, verbose=0)
