"""The four Siamese-difference networks: shapes, shared weights, training, saving, errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from asna.core.config import defaults
from asna.core.errors import UserError
from asna.models import build_model
from asna.models.layers import AbsoluteDifference, ScaleToUnitRange, TileImage
import asna.models

BATCH = 4
SMALL = {"image_size": 32, "tile_size": 16, "dense_num": 8, "lstm_units": 4,
         "nfs": [4, 4, 8, 8, 8, 8, 8, 4, 4, 8], "num_resblocks": 1}
# Conv2D layers one encoder tower holds: f1 has two, f2..f4 one each.
ENCODER_CONVS = 5


def small(network: str, **overrides) -> dict:
    return {**SMALL, "network": network, **overrides}


def pair_batch(size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.integers(0, 256, (BATCH, size, size, 3), dtype=np.uint8) for _ in range(2))


def predict(model: keras.Model, reference: np.ndarray, distorted: np.ndarray) -> np.ndarray:
    return np.asarray(model([reference, distorted], training=False))


@pytest.mark.parametrize("network", asna.models.NETWORKS)
def test_builds_with_one_float32_score_per_pair(network):
    model = build_model(small(network))
    assert [tensor.name for tensor in model.inputs] == ["reference", "distorted"]
    assert all(tensor.dtype == "uint8" for tensor in model.inputs)
    scores = predict(model, *pair_batch())
    assert scores.shape == (BATCH, 1) and scores.dtype == np.float32


@pytest.mark.parametrize("network", asna.models.NETWORKS)
def test_encoder_weights_are_one_set(network):
    model = build_model(small(network))
    encoder = model.get_layer("encoder")
    assert isinstance(encoder, keras.Model)
    encoder_convs = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(encoder_convs) == ENCODER_CONVS
    # Every encoder variable appears once in the model: no second tower.
    model_ids = [id(variable) for variable in model.weights]
    assert len(model_ids) == len(set(model_ids))
    assert {id(v) for v in encoder.weights} <= set(model_ids)
    top_level_convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(not layer.name.startswith("f") for layer in top_level_convs)


@pytest.mark.parametrize("network", asna.models.NETWORKS)
def test_identical_images_reach_the_decoder_as_zero_differences(network):
    """The encoder is applied to both inputs with the same weights, so |f_ref - f_dist| = 0."""
    model = build_model(small(network))
    reference, _ = pair_batch()
    probe = keras.Model(model.inputs, [model.get_layer(f"diff{i}").output for i in range(1, 5)])
    for diff in probe([reference, reference], training=False):
        assert float(np.max(np.abs(np.asarray(diff)))) == 0.0


@pytest.mark.parametrize("network", asna.models.NETWORKS)
def test_trains_two_steps_without_nan(network):
    keras.utils.set_random_seed(1)
    model = build_model(small(network, drop_out=0.1))
    model.compile(optimizer="adam", loss="mse")
    reference, distorted = pair_batch()
    targets = np.random.default_rng(2).normal(size=(BATCH, 1)).astype("float32")
    history = model.fit([reference, distorted], targets, batch_size=2, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.all(np.isfinite(predict(model, reference, distorted)))


@pytest.mark.parametrize("network", asna.models.NETWORKS)
def test_saved_model_reloads_to_identical_predictions(network, tmp_path):
    model = build_model(small(network))
    if network in ("bn", "attention"):  # move BN statistics off their initial values
        model.compile(optimizer="adam", loss="mse")
        reference, distorted = pair_batch(seed=3)
        model.fit([reference, distorted], np.zeros((BATCH, 1), "float32"), verbose=0)
    path = tmp_path / f"{network}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    pair = pair_batch(seed=4)
    np.testing.assert_array_equal(predict(model, *pair), predict(reloaded, *pair))


@pytest.mark.parametrize("network", asna.models.NETWORKS)
def test_decoder_source_picks_whose_features_start_the_decoder(network):
    """Differences are symmetric, so only the decoder's start tells the inputs apart:
    (a, b) with the reference's features equals (b, a) with the distorted's."""
    from_reference = build_model(small(network, decoder_source="reference"))
    from_distorted = build_model(small(network, decoder_source="distorted"))
    from_distorted.set_weights(from_reference.get_weights())
    first, second = pair_batch(seed=5)
    np.testing.assert_allclose(predict(from_reference, first, second),
                               predict(from_distorted, second, first), rtol=1e-5, atol=1e-6)
    assert not np.allclose(predict(from_reference, first, second),
                           predict(from_distorted, first, second), rtol=1e-4, atol=1e-6)


def test_tile_size_that_does_not_divide_the_image_is_a_user_error():
    with pytest.raises(UserError, match=r"tile_size: 24 does not divide image_size 64"):
        build_model(small("tiled", image_size=64, tile_size=24))


def test_tile_size_not_divisible_by_8_is_a_user_error():
    with pytest.raises(UserError, match=r"tile_size: 12 is not divisible by 8"):
        build_model(small("tiled", image_size=48, tile_size=12))


@pytest.mark.parametrize("network", ["simple", "bn", "attention"])
def test_image_size_not_divisible_by_16_is_a_user_error(network):
    with pytest.raises(UserError, match=r"image_size: 40 is not divisible by 16"):
        build_model(small(network, image_size=40))


def test_bad_keys_and_values_are_user_errors():
    with pytest.raises(UserError, match="unknown key"):
        build_model({"network": "simple", "image_sise": 32})
    with pytest.raises(UserError, match="network"):
        build_model({"network": "resnet"})
    with pytest.raises(UserError, match="nfs"):
        build_model(small("simple", nfs=[4] * 9))


def test_builds_from_a_config_section():
    config = defaults()
    config.values["model"].update(small("bn"))
    assert build_model(config.model).name == "asna_bn"


def test_attention_options_change_the_graph():
    full = build_model(small("attention", num_resblocks=2))
    bare = build_model(small("attention", num_resblocks=0, attention_flag=False))
    names = {layer.name for layer in full.layers}
    assert {"att_out", "res1_add", "res2_add"} <= names
    assert not any(layer.name.startswith(("att_", "res")) for layer in bare.layers)
    assert full.get_layer("head_squash").activation.__name__ == "tanh"


def test_scale_maps_uint8_to_unit_range():
    scaled = np.asarray(ScaleToUnitRange()(np.array([[0, 51, 255]], dtype="uint8")))
    np.testing.assert_allclose(scaled, [[-1.0, (51 - 127.5) / 127.5, 1.0]], rtol=1e-6)


def test_absolute_difference():
    first = np.array([[1.0, -2.0]], "float32")
    second = np.array([[3.0, -5.0]], "float32")
    np.testing.assert_allclose(np.asarray(AbsoluteDifference()([first, second])), [[2.0, 3.0]])


def test_tiles_are_row_major():
    image = np.arange(4 * 6 * 1, dtype="float32").reshape(1, 4, 6, 1)
    tiles = np.asarray(TileImage(2)(image))
    assert tiles.shape == (1, 6, 2, 2, 1)
    for index in range(6):
        row, column = divmod(index, 3)
        np.testing.assert_array_equal(tiles[0, index],
                                      image[0, 2 * row:2 * row + 2, 2 * column:2 * column + 2])


def test_fused_batch_norm_matches_keras_batch_norm():
    """Same outputs and moving mean; the moving variance takes the unbiased batch variance."""
    from asna.models.layers import FusedBatchNormalization

    features = np.random.default_rng(6).normal(2.0, 3.0, (4, 6, 6, 5)).astype("float32")
    fused, plain = FusedBatchNormalization(), keras.layers.BatchNormalization()
    for training in (False, True):
        np.testing.assert_allclose(np.asarray(fused(features, training=training)),
                                   np.asarray(plain(features, training=training)),
                                   rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(fused.moving_mean), np.asarray(plain.moving_mean),
                               rtol=1e-5)
    count = features.size // features.shape[-1]
    batch_variance = features.reshape(-1, features.shape[-1]).var(axis=0)
    expected = plain.momentum + (1 - plain.momentum) * batch_variance * count / (count - 1)
    np.testing.assert_allclose(np.asarray(fused.moving_variance), expected, rtol=1e-4)


def test_score_is_float32_under_mixed_precision():
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = build_model(small("attention"))
        scores = model(list(pair_batch()), training=True)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    assert scores.dtype == "float32" and model.output.dtype == "float32"


def test_custom_objects_names_the_layers():
    assert {"ScaleToUnitRange", "AbsoluteDifference", "TileImage",
            "FusedBatchNormalization"} <= set(asna.models.custom_objects())


def test_diagram_reads_stages_and_wiring_from_the_model(tmp_path):
    from asna.models.diagram import build_for_drawing, collect, draw

    with pytest.raises(ValueError, match="build_for_drawing"):  # the folded decoder has no dec4_concat
        collect(build_model(small("tiled", decoder_source="distorted")))
    model = build_for_drawing(small("tiled", decoder_source="distorted"))
    layout = collect(model)
    assert [stage.name for stage in layout.encoder] == ["lstm", "f1", "f2", "f3", "f4"]
    assert (layout.start_image, layout.start_stage) == ("distorted", "f4")
    assert layout.diffs == {"diff1": "f4", "diff2": "f3", "diff3": "f2", "diff4": "f1"}
    path = draw(model, tmp_path / "figure.png")
    assert path.stat().st_size > 10_000


# The original implementation's parameter counts at its settings (288 x 288 inputs).
ORIGINAL_PARAMETERS = {"simple_pretrain": 839_039, "simple2_pretrain": 1_503_759, "bn_pretrain": 1_504_943,
                       "attention_pretrain": 529_103, "tiled_pretrain": 373_902}


@pytest.mark.parametrize("name", ORIGINAL_PARAMETERS)
def test_original_configs_build_with_the_original_parameter_counts(name, repo_root):
    from asna.core.config import load_config

    for stage in ("pretrain", "pipal"):  # fine-tuning must load the pre-trained weights: same network
        config = load_config(repo_root / "configs" / f"{name.replace('pretrain', stage)}.txt")
        assert build_model(config.model).count_params() == ORIGINAL_PARAMETERS[name], stage


def test_bn_has_no_batch_norm_after_the_strided_convolutions():
    model = build_model(small("bn"))
    names = {layer.name for layer in model.layers}
    assert {"down1_conv", "down2_conv"} <= names
    assert not {"down1_bn", "down2_bn"} & names
    assert "f1_bn" in {layer.name for layer in model.get_layer("encoder").layers} and "dec1_bn" in names


def test_pooled_head_takes_any_multiple_of_16_and_keeps_the_parameter_count():
    pooled = build_model(small("attention", head="pooled"))
    assert [tuple(tensor.shape[1:]) for tensor in pooled.inputs] == [(None, None, 3)] * 2
    bigger = build_model(small("attention", head="pooled", image_size=96))
    assert pooled.count_params() == bigger.count_params()  # nothing in it depends on the size
    flatten = build_model(small("attention"))
    assert pooled.count_params() != flatten.count_params()
    for shape in ((32, 32), (48, 80), (96, 64)):
        reference, distorted = (np.random.default_rng(1).integers(0, 256, (2, *shape, 3), dtype=np.uint8)
                                for _ in range(2))
        scores = predict(pooled, reference, distorted)
        assert scores.shape == (2, 1) and np.isfinite(scores).all()


def test_pooled_head_at_the_demo_size_has_its_documented_count():
    assert build_model({"network": "attention", "image_size": 64, "head": "pooled"}).count_params() == 197_618
    assert build_model({"network": "attention", "image_size": 64}).count_params() == 213_711


def assert_reloads_alike(model: keras.Model, path, reference: np.ndarray, distorted: np.ndarray,
                         tolerance: float = 1e-6) -> None:
    """Saved to ``path`` and loaded back, ``model`` scores the pair as before."""
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(predict(again, reference, distorted), predict(model, reference, distorted),
                               rtol=tolerance, atol=1e-6)


def test_pooled_head_reloads_and_scores_other_sizes_alike(tmp_path):
    assert_reloads_alike(build_model(small("bn", head="pooled")), tmp_path / "pooled.keras", *pair_batch(64, seed=3))


def test_weighted_mean_pools_positions_by_their_weights():
    from asna.models.layers import WeightedMean

    quality = np.array([1.0, 3.0, 5.0, 7.0], np.float32).reshape(1, 2, 2, 1)
    weight = np.array([1.0, 0.0, 0.0, 3.0], np.float32).reshape(1, 2, 2, 1)
    pooled = np.asarray(WeightedMean()([quality, weight]))
    np.testing.assert_allclose(pooled, [[(1.0 + 21.0) / 4.0]], rtol=1e-5)


def test_tiled_network_refuses_the_pooled_head():
    with pytest.raises(UserError, match=r"\[model\] head: the tiled network"):
        build_model(small("tiled", head="pooled"))


def smooth_pair(size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured reference and a blurred copy: a pair whose GMS map varies."""
    import cv2

    rng = np.random.default_rng(seed)
    reference = np.stack([cv2.GaussianBlur(image, (0, 0), 1.0)
                          for image in rng.integers(0, 256, (BATCH, size, size, 3), dtype=np.uint8)])
    return reference, np.stack([cv2.GaussianBlur(image, (0, 0), 1.5) for image in reference])


def test_gradient_similarity_cells_hold_gmsd_and_its_map():
    from asna.evaluation.similarity import gmsd
    from asna.models.layers import GradientSimilarityCells

    reference, distorted = smooth_pair(32)
    cells = np.asarray(GradientSimilarityCells()([reference, distorted]), np.float64)
    assert cells.shape == (BATCH, 4, 4, 2)
    mean = 1.0 - cells[..., 0]  # each cell's mean GMS; every cell has 4 x 4 half-resolution pixels
    second_moment = (cells[..., 1] ** 2 - 1e-6 + mean ** 2).mean(axis=(1, 2))
    whole = np.sqrt(second_moment - mean.mean(axis=(1, 2)) ** 2)  # the sd over the whole map = GMSD
    np.testing.assert_allclose(whole, gmsd(reference, distorted), rtol=2e-3)
    assert (whole > 0.01).all()
    same = np.asarray(GradientSimilarityCells()([reference, reference]))
    np.testing.assert_allclose(same[..., 0], 0.0, atol=1e-6)  # identical images: GMS 1 everywhere


@pytest.mark.parametrize("head", ["flatten", "pooled"])
def test_classic_map_option_feeds_the_head_and_reloads(head, tmp_path):
    plain = build_model(small("attention", head=head))
    model = build_model(small("attention", head=head, classic_map="gms"))
    # the head's dense layer reads 2 more channels (one kernel row each); nothing else changes
    extra = 2 * (model.get_layer("head_dense").kernel.shape[-1]) * (16 if head == "flatten" else 1)
    assert model.count_params() == plain.count_params() + extra
    side = 4 if head == "flatten" else None  # the pooled head takes any size
    assert model.get_layer("classic_gms").output.shape[1:] == (side, side, 2)
    assert_reloads_alike(model, tmp_path / "gms.keras", *smooth_pair(32, seed=2), tolerance=1e-5)


def test_classic_map_trains_and_its_gradient_is_finite_on_flat_images():
    import tensorflow as tf

    from asna.api.perceptual_loss import float_view

    model = build_model(small("bn", head="pooled", classic_map="gms"))
    model.compile(optimizer="adam", loss="mse")
    reference, distorted = smooth_pair(32, seed=4)
    before = [weight.copy() for weight in model.get_weights()]
    history = model.fit([reference, distorted], np.linspace(1, 4, BATCH), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(old, new) for old, new in zip(before, model.get_weights()))
    flat = tf.constant(np.full((BATCH, 32, 32, 3), 128, np.float32))
    with tf.GradientTape() as tape:  # the perceptual loss's path (frozen): float pixels, gradient to the image
        tape.watch(flat)
        score = float_view(model)([flat, flat])
    gradient = tape.gradient(score, flat).numpy()
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def test_tiled_network_refuses_the_classic_map():
    with pytest.raises(UserError, match=r"\[model\] classic_map: the tiled network"):
        build_model(small("tiled", classic_map="gms"))
