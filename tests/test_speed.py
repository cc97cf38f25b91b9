"""The speed paths compute what the code before them computed; FLOPs and the matmul peak are counted right.

The XLA-fused paths only run on large maps (``speed_paths.FUSE_MIN_ELEMENTS``);
these tests lower that bound to 0 so the 32 px networks take them too.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from asna.core import speed_paths
from asna.core.config import load_config
from asna.core.precision import policy_scope
from asna.core.speed_paths import GRAPH_PATHS, NAMES, paths_off
from asna.evaluation import tta
from asna.models import build_model
from asna.profiling.flops import compute_dtype, fraction_of_peak, graph_flops, matmul_peak, network_flops

SMALL = {"network": "attention", "image_size": 32, "nfs": [4, 4, 8, 8, 8, 8, 8, 4, 4, 8],
         "num_resblocks": 1, "dense_num": 8}
TRAIN_STEPS = 3


def small_config(network: str, **changes) -> dict:
    """SMALL as ``network``; the tiled network at 64 px in 16 px tiles."""
    config = {**SMALL, "network": network, **changes}
    if network == "tiled":
        config.update(image_size=64, tile_size=16, lstm_units=4)
    return config


@pytest.fixture
def fuse_small_maps(monkeypatch):
    monkeypatch.setattr(speed_paths, "FUSE_MIN_ELEMENTS", 0)


def pairs(count: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8) for _ in range(2))


def train_losses(policy: str, off: list[str]) -> tuple[list[float], np.ndarray]:
    """Losses of a few training steps (the full loss with the soft rank, Adam) and the inference scores after."""
    from asna.training.losses import build_loss

    loss = build_loss(load_config(None, ["loss.ranker=softrank"]).loss)
    (references, distorted), targets = pairs(8, seed=1), np.linspace(-1, 1, 8).astype(np.float32)
    with paths_off(off), policy_scope(policy):
        keras.utils.set_random_seed(0)
        model = build_model(SMALL)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
        history = model.fit([references, distorted], targets, batch_size=8, epochs=TRAIN_STEPS, verbose=0)
        scores = np.asarray(model.predict_on_batch([references, distorted]), np.float32)
    return history.history["loss"], scores


@pytest.mark.slow  # two trainings traced from scratch: about 25 s on the shared 2-core machine
def test_training_steps_with_every_path_equal_the_code_before(fuse_small_maps):
    """bfloat16, where the paths apply (float32 models run as before): the fused difference
    in the train step, the fused BatchNorm in the inference after it; then BatchNorm's
    training pass without float32 copies and the folded upsampling (which regroup sums,
    tested on their own below)."""
    exact_losses, exact_scores = train_losses("mixed_bfloat16", ["half_batch_norm_training", *GRAPH_PATHS])
    old_losses, old_scores = train_losses("mixed_bfloat16", list(NAMES))
    assert np.all(np.isfinite(exact_losses)) and len(set(exact_losses)) == TRAIN_STEPS  # it trained
    np.testing.assert_allclose(exact_losses, old_losses, rtol=1e-6)
    # the fused BatchNorm computes the same float32 formula in another order, rounded
    # once to bfloat16: the scores agree to bfloat16's resolution
    np.testing.assert_allclose(exact_scores, old_scores, rtol=2e-2, atol=1e-3)
    assert not np.allclose(exact_scores, exact_scores[0])  # scores that tell pairs apart
    new_losses, _ = train_losses("mixed_bfloat16", [])  # with BatchNorm on the bfloat16 maps too
    assert np.all(np.isfinite(new_losses)) and new_losses[-1] < new_losses[0]  # it trains


def loss_gradients(policy: str, off: list[str]) -> tuple[float, np.ndarray]:
    """The full loss of one batch in training mode and its gradient, all trainable weights in one vector."""
    from asna.training.losses import build_loss

    loss = build_loss(load_config(None, ["loss.ranker=softrank"]).loss)
    (references, distorted), targets = pairs(8, seed=1), np.linspace(-1, 1, 8).astype(np.float32)
    with paths_off(off), policy_scope(policy):
        keras.utils.set_random_seed(0)
        model = build_model(SMALL)
        with tf.GradientTape() as tape:
            value = loss(targets, model([references, distorted], training=True))
        grads = tape.gradient(value, model.trainable_weights)
    return float(value), np.concatenate([np.ravel(np.asarray(g, np.float32)) for g in grads])


def test_batch_norm_on_bfloat16_maps_trains_at_least_as_close_to_float32(fuse_small_maps):
    """BatchNorm's training pass without float32 copies sums in another order, so this tiny
    network's gradient, ill-conditioned in bfloat16 (BatchNorm after BatchNorm cancels most
    of it), cannot match the copies' bit for bit: it must be as close to float32's as theirs."""
    reference_loss, reference = loss_gradients("float32", [])
    new_loss, new = loss_gradients("mixed_bfloat16", [])
    old_loss, old = loss_gradients("mixed_bfloat16", ["half_batch_norm_training"])
    assert not np.array_equal(new, old)  # the path was taken
    np.testing.assert_allclose([new_loss, old_loss], reference_loss, rtol=2 ** -6)
    new_error, old_error = (np.linalg.norm(g - reference) / np.linalg.norm(reference) for g in (new, old))
    assert new_error <= 1.1 * old_error, (new_error, old_error)


def gradients_of(model: keras.Model, references: np.ndarray, distorted: np.ndarray) -> list[np.ndarray]:
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(model([references, distorted], training=True))
    return [np.asarray(g) for g in tape.gradient(total, model.trainable_weights)]


def assert_same_network(fast: keras.Model, plain: keras.Model, size: int, seed: int, tmp_path) -> None:
    """``plain`` takes ``fast``'s weights and gives its float32 scores and gradients within the
    regrouped sums; ``fast`` saves and reloads to the same scores (BatchNorm's statistics moved
    in the training passes)."""
    assert fast.count_params() == plain.count_params()
    plain.set_weights(fast.get_weights())
    references, distorted = pairs(4, size=size, seed=seed)
    scores = np.asarray(fast.predict_on_batch([references, distorted]))
    np.testing.assert_allclose(scores, plain.predict_on_batch([references, distorted]), rtol=1e-5, atol=1e-6)
    assert not np.allclose(scores, scores[0])
    for a, b in zip(gradients_of(fast, references, distorted), gradients_of(plain, references, distorted)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max())
    fast.save(tmp_path / "fast.keras")
    reloaded = keras.models.load_model(tmp_path / "fast.keras")
    np.testing.assert_array_equal(fast.predict_on_batch([references, distorted]),
                                  reloaded.predict_on_batch([references, distorted]))


@pytest.mark.parametrize("network", ["attention", "tiled"])
def test_folded_upsampling_computes_the_unfolded_convolution(network, tmp_path):
    """attention: the extra pool, decoder step 4 upsampled; tiled: no extra pool. float32, so
    only the regrouped sums differ; weights are interchangeable both ways."""
    from asna.models.layers import UpsampledConcatConv2D

    config = small_config(network)
    keras.utils.set_random_seed(0)
    folded = build_model(config)
    with paths_off(["folded_upsampling"]):
        unfolded = build_model(config)
    assert isinstance(folded.get_layer("down1_conv"), UpsampledConcatConv2D)
    names = {layer.name for layer in folded.layers}
    assert "dec4_up" not in names and "dec4_concat" not in names
    assert {"dec4_up", "dec4_concat"} <= {layer.name for layer in unfolded.layers}
    assert_same_network(folded, unfolded, config["image_size"], 7, tmp_path)


@pytest.mark.parametrize("network", ["attention", "tiled"])
def test_subpixel_upsampling_computes_the_upsampled_concatenated_convolution(network, tmp_path):
    """attention: decoder steps 1-3 upsample; tiled: steps 2-3 (step 1 concatenates at f4's
    scale). float32, so only the regrouped sums differ; weights are interchangeable."""
    from asna.models.layers import UpsampledConcatConv2D

    config = small_config(network)
    folded_steps = [1, 2, 3] if network == "attention" else [2, 3]
    keras.utils.set_random_seed(0)
    folded = build_model(config)
    with paths_off(["subpixel_upsampling"]):
        unfolded = build_model(config)
    names = {layer.name for layer in folded.layers}
    for step in folded_steps:
        layer = folded.get_layer(f"dec{step + 1}_conv")
        assert isinstance(layer, UpsampledConcatConv2D) and tuple(layer.strides) == (1, 1)
        assert f"dec{step}_up" not in names and f"dec{step}_concat" not in names
        assert {f"dec{step}_up", f"dec{step}_concat"} <= {layer.name for layer in unfolded.layers}
    assert ("dec1_concat" in names) is (network == "tiled")
    assert_same_network(folded, unfolded, config["image_size"], 9, tmp_path)


def test_the_subpixel_fold_gives_the_convolution_of_the_upsampled_map_at_every_border():
    """One layer against Conv2D on concat(upsample(x), d) with random weights, odd-sized maps too."""
    from asna.models.layers import UpsampledConcatConv2D

    rng = np.random.default_rng(3)
    x, d = rng.normal(size=(2, 5, 7, 3)).astype(np.float32), rng.normal(size=(2, 10, 14, 2)).astype(np.float32)
    folded = UpsampledConcatConv2D(4, 3, strides=1, padding="same")
    plain = keras.layers.Conv2D(4, 3, padding="same")
    plain.build((2, 10, 14, 5))
    folded.build([x.shape, d.shape])
    plain.set_weights([rng.normal(size=(3, 3, 5, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)])
    folded.set_weights(plain.get_weights())
    expected = plain(np.concatenate([x.repeat(2, axis=1).repeat(2, axis=2), d], axis=-1))
    np.testing.assert_allclose(folded([x, d]), expected, rtol=1e-5, atol=1e-5)


def test_the_folded_convolution_refuses_what_it_cannot_fold():
    from asna.models.layers import BlockConv2D, UpsampledConcatConv2D

    with pytest.raises(ValueError, match="3x3, stride-4 or stride-1"):
        UpsampledConcatConv2D(8, 3, strides=2, padding="same")
    with pytest.raises(ValueError, match="at stride 4 only"):
        UpsampledConcatConv2D(8, 3, strides=1, padding="same", blocked_difference=True)
    with pytest.raises(ValueError, match="odd"):
        BlockConv2D(8, 7, padding="same")
    with pytest.raises(ValueError, match="stride-1"):
        BlockConv2D(8, 3, strides=2, padding="same")


@pytest.mark.parametrize("network,kernel,fold", [("attention", 5, True), ("simple", 3, True), ("tiled", 5, True),
                                                 ("attention", 5, False)])
def test_the_stem_on_blocks_computes_the_plain_convolutions(network, kernel, fold, tmp_path):
    """float32: the block kernels hold the same taps (and zeros), so only sums regroup. With the
    fold, f1 stays on blocks through BatchNorm, f2's pooling and D4; without it, it goes back."""
    from asna.models.layers import BlockConv2D, BlockMaxPooling2D

    config = small_config(network, kss=[kernel, 5, 3, 3])
    keras.utils.set_random_seed(0)
    with paths_off([] if fold else ["folded_upsampling"]):
        blocked = build_model(config)
    with paths_off(["space_to_depth_stem"] + ([] if fold else ["folded_upsampling"])):
        plain = build_model(config)
    encoder = blocked.get_layer("encoder")
    assert isinstance(encoder.get_layer("f1_conv"), BlockConv2D)
    assert isinstance(encoder.get_layer("f1_conv_rgb"), BlockConv2D)
    assert isinstance(encoder.get_layer("f2_pool"), BlockMaxPooling2D) is fold
    assert (encoder.output[0].shape[1] * 2 == config["image_size"]) is (fold and network != "tiled")
    assert not isinstance(plain.get_layer("encoder").get_layer("f1_conv"), BlockConv2D)
    assert_same_network(blocked, plain, config["image_size"], 8, tmp_path)


def test_scoring_takes_the_stem_plain_with_the_same_weights():
    """A model trained on blocks scores through plain convolutions (plain_stem_scoring): the same
    scores within float32's regrouping, under the model's own precision; off, it keeps the blocks."""
    from asna.evaluation.scorer import ModelInfo, QualityScorer
    from asna.models.blocks import with_plain_stem
    from asna.models.layers import BlockConv2D, SpaceToDepth

    def stem_layers(model):
        encoder = model.get_layer("encoder")
        return encoder.get_layer("f1_conv"), encoder.get_layer("f1_to_blocks")

    keras.utils.set_random_seed(1)
    with policy_scope("mixed_bfloat16"):
        blocked = build_model(SMALL)
    plain = with_plain_stem(blocked)
    conv, reshuffle = stem_layers(plain)
    assert type(conv) is keras.layers.Conv2D and not isinstance(reshuffle, SpaceToDepth)
    assert conv.dtype_policy.name == "mixed_bfloat16"
    np.testing.assert_array_equal(conv.kernel.numpy(), stem_layers(blocked)[0].kernel.numpy())
    assert with_plain_stem(plain) is plain
    with policy_scope("float32"):
        exact = build_model(SMALL)
    exact.set_weights(blocked.get_weights())
    references, distorted = pairs(4, seed=3)
    scores = np.asarray(exact.predict_on_batch([references, distorted]))
    np.testing.assert_allclose(with_plain_stem(exact).predict_on_batch([references, distorted]), scores,
                               rtol=1e-5, atol=1e-6)
    info = ModelInfo(Path("m.keras"), "attention", 32, {"s": (1.0, 1.0)})
    assert type(stem_layers(QualityScorer([blocked], [info]).models[0])[0]) is keras.layers.Conv2D
    with paths_off(["plain_stem_scoring"]):
        assert isinstance(stem_layers(QualityScorer([blocked], [info]).models[0])[0], BlockConv2D)


def test_free_size_models_keep_the_plain_stem():
    from asna.models.layers import BlockConv2D

    model = build_model({**SMALL, "head": "pooled"})
    assert not isinstance(model.get_layer("encoder").get_layer("f1_conv"), BlockConv2D)


@pytest.mark.parametrize("channels", [16, 8, 4])
def test_half_batch_norm_training_matches_the_float32_copies(fuse_small_maps, channels):
    """16 channels: oneDNN's kernel on the bfloat16 map; 8 and 4: the 16-channel view."""
    from asna.models import layers

    rng = np.random.default_rng(channels)
    weights = [rng.uniform(0.5, 2, channels), rng.normal(size=channels), rng.normal(size=channels),
               rng.uniform(0.2, 3, channels)]
    maps = tf.cast(rng.normal(1.0, 2.0, (4, 8, 8, channels)), tf.bfloat16)
    upstream = tf.cast(rng.normal(size=(4, 8, 8, channels)), tf.bfloat16)

    def run():
        with policy_scope("mixed_bfloat16"):
            layer = layers.FusedBatchNormalization(momentum=0.9)
            layer.build((None, 8, 8, channels))
        layer.set_weights(weights)
        with tf.GradientTape() as tape:
            tape.watch(maps)
            out = layer(maps, training=True)
        grads = tape.gradient(out, [maps, layer.gamma, layer.beta], output_gradients=upstream)
        assert out.dtype == tf.bfloat16 and grads[0].dtype == tf.bfloat16
        return [np.asarray(tf.cast(t, tf.float32)) for t in (out, *grads)] + [
            np.asarray(v) for v in (layer.moving_mean, layer.moving_variance)]

    assert layers._half_kernel_trains(maps) == (channels == 16)  # the kernel as it is
    assert layers._grouped_kernel_trains(maps) == (channels < 16)  # the 16-channel view
    new = run()
    with paths_off(["half_batch_norm_training"]):
        old = run()
    for name, a, b in zip(["y", "dx"], new, old):  # within a bfloat16 step of the largest value
        np.testing.assert_allclose(a, b, rtol=0, atol=2 ** -7 * np.abs(b).max(), err_msg=name)
    for name, a, b in zip(["dgamma", "dbeta", "moving mean", "moving variance"], new[2:], old[2:]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)
    # and the layer did normalise: each channel of y has beta's mean (gamma and beta as set)
    np.testing.assert_allclose(new[0].mean(axis=(0, 1, 2)), weights[1], atol=0.05)


def test_half_batch_norm_at_inference_matches_the_fused_kernel(fuse_small_maps):
    from asna.models.layers import FusedBatchNormalization

    rng = np.random.default_rng(3)
    with policy_scope("mixed_bfloat16"):
        layer = FusedBatchNormalization()
        layer.build((None, 8, 8, 16))
    layer.set_weights([rng.uniform(0.5, 2, 16), rng.normal(size=16), rng.normal(size=16), rng.uniform(0.2, 3, 16)])
    maps = tf.cast(rng.normal(1.0, 2.0, (4, 8, 8, 16)), tf.bfloat16)
    fused = np.asarray(tf.cast(layer(maps, training=False), tf.float32))
    with paths_off(["half_batch_norm_inference"]):
        kernel = np.asarray(tf.cast(layer(maps, training=False), tf.float32))
    assert layer(maps, training=False).dtype == tf.bfloat16
    # at most one bfloat16 step apart (8 bits of mantissa), nearly always equal
    np.testing.assert_allclose(fused, kernel, rtol=2 ** -7, atol=1e-6)
    assert np.mean(fused == kernel) > 0.99


def test_fused_difference_and_its_gradient_are_bit_identical(fuse_small_maps):
    from asna.models.layers import AbsoluteDifference

    rng = np.random.default_rng(4)
    first = tf.constant(rng.normal(size=(2, 8, 8, 4)), tf.bfloat16)
    second = tf.constant(np.where(rng.random((2, 8, 8, 4)) < 0.2, tf.cast(first, tf.float32),
                                  rng.normal(size=(2, 8, 8, 4))),
                         tf.bfloat16)  # some equal values: the gradient of |0| is 0 on both paths
    upstream = tf.constant(rng.normal(size=(2, 8, 8, 4)), tf.bfloat16)

    def run():
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([first, second])
            out = AbsoluteDifference(dtype="mixed_bfloat16")([first, second])
            total = tf.reduce_sum(tf.cast(out * upstream, tf.float32))
        return [np.asarray(tf.cast(t, tf.float32)) for t in (out, *tape.gradient(total, [first, second]))]

    fused = run()
    with paths_off(["fused_difference"]):
        plain = run()
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)


def test_a_model_saved_on_the_fused_paths_reloads_to_the_same_scores(fuse_small_maps, tmp_path):
    from asna.models.layers import FusedBatchNormalization

    rng = np.random.default_rng(5)
    with policy_scope("mixed_bfloat16"):
        model = build_model(SMALL)
    for layer in model._flatten_layers():  # BatchNorm statistics away from their initial 0 and 1
        if isinstance(layer, FusedBatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.5, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2, layer.moving_variance.shape))
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    references, distorted = pairs(4, seed=5)
    scores = model.predict_on_batch([references, distorted])
    np.testing.assert_array_equal(scores, reloaded.predict_on_batch([references, distorted]))
    with paths_off(NAMES):  # and the code before the paths, built now, scores them alike
        plain = keras.models.load_model(tmp_path / "model.keras").predict_on_batch([references, distorted])
    np.testing.assert_allclose(scores, plain, rtol=2e-2, atol=1e-3)


def test_shared_lab_variants_equal_each_variant_applied_alone():
    references, distorted = pairs(3, size=24, seed=6)
    chosen = tta.variants("full")
    shared = list(tta.variant_batches(chosen, references, distorted))
    assert len(shared) == len(chosen) == 22
    for variant, (new_r, new_d) in zip(chosen, shared):
        old_r, old_d = variant.apply(references, distorted)
        np.testing.assert_array_equal(new_r, old_r, err_msg=variant.name)
        np.testing.assert_array_equal(new_d, old_d, err_msg=variant.name)


def test_prefetched_full_tta_scores_equal_the_plain_loop():
    from asna.evaluation.scorer import ModelInfo, QualityScorer

    keras.utils.set_random_seed(7)
    model = build_model(SMALL)
    info = ModelInfo(None, "attention", 32, {"x": (3.0, 1.0)})
    references, distorted = pairs(5, seed=8)
    scorer = QualityScorer([model], [info], batch_size=4)  # batches cross variant and pair boundaries
    new = scorer.score_pairs(references, distorted, tta="full")
    with paths_off(["shared_lab_tta", "prefetch_tta"]):
        old = scorer.score_pairs(references, distorted, tta="full")
    np.testing.assert_array_equal(new, old)
    assert len(set(np.round(new, 6))) == 5


def test_unknown_path_names_are_refused():
    with pytest.raises(ValueError, match="no_such_path"):
        speed_paths.turn_off(["no_such_path"])


# ----------------------------------------------------------------------------- FLOPs and peak


def test_graph_flops_count_a_matmul_as_two_per_multiply_add():
    function = tf.function(lambda a, b: tf.matmul(a, b))
    graph = function.get_concrete_function(tf.TensorSpec((3, 5)), tf.TensorSpec((5, 7))).graph
    assert graph_flops(graph) == 2 * 3 * 5 * 7


def test_a_training_pair_costs_about_three_forward_passes():
    flops = network_flops(SMALL)
    assert flops.forward > 0
    assert 2.5 < flops.training_over_forward < 3.5


def test_attention_network_at_288_costs_1_64_gflop_forward():
    """The figure docs/benchmarks.md quotes (the original's pre-training settings)."""
    assert network_flops({"network": "attention", "image_size": 288}).forward == pytest.approx(1.641e9, rel=1e-3)


def test_matmul_peak_and_fraction():
    assert compute_dtype("mixed_bfloat16") == "bfloat16"
    peak = matmul_peak("float32", size=128, rounds=1, repeats=2)
    assert np.isfinite(peak) and peak > 0
    achieved, fraction = fraction_of_peak(10.0, 5_000_000_000, 200.0)
    assert achieved == pytest.approx(50.0) and fraction == pytest.approx(0.25)
    with pytest.raises(ValueError, match="choose from"):
        compute_dtype("float64")


def test_op_profile_sums_op_time_by_type_and_names_layers():
    from asna.profiling.op_profile import layer_of, profile_ops, stage_of

    assert layer_of("StatefulPartitionedCall/gradient_tape/asna_attention_1/encoder_3/f1_conv_rgb_1/Conv2D") \
        == "encoder/f1_conv_rgb"
    assert layer_of("StatefulPartitionedCall/asna_bn/diff4/Abs") == "diff4"
    assert layer_of("StatefulPartitionedCall/AddN_16") == "other"
    assert stage_of("encoder/f1_conv_rgb") == "encoder f1" and stage_of("dec4_concat") == "dec4"
    left, right = tf.random.normal((256, 256)), tf.random.normal((256, 256))
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(left, right)))
    product()
    profile = profile_ops(lambda: [product() for _ in range(3)])
    types = dict(profile["by_op_type"])
    assert profile["op_seconds"] > 0 and sum(types.values()) <= 1.0 + 1e-6
    assert any("MatMul" in name for name in types)


def test_batch_norm_training_variants_compute_what_the_default_path_does():
    from asna.profiling.batch_norm_timing import VARIANTS, compare_variants, example_inputs, training_pass

    shape = (2, 8, 8, 4)
    x, upstream, gamma, beta = example_inputs(shape)
    values = tf.cast(x, tf.float32)
    y, dx, dgamma, dbeta = training_pass("float32_copies")(x, upstream, gamma, beta)
    assert y.dtype == tf.bfloat16 and dx.dtype == tf.bfloat16
    # the default path normalises each channel: mean 0 and variance 1 before gamma and beta
    normalised = (tf.cast(y, tf.float32) - beta) / gamma
    np.testing.assert_allclose(tf.reduce_mean(normalised, [0, 1, 2]), 0, atol=0.02)
    np.testing.assert_allclose(tf.math.reduce_variance(normalised, [0, 1, 2]), 1, atol=0.05)
    assert float(tf.math.reduce_std(values)) > 0.5  # a real map, not a constant
    times, gaps = compare_variants(shape, rounds=1, repeats=1)
    assert list(times) == list(VARIANTS) and all(t["wall_s"] > 0 for t in times.values())
    assert list(gaps) == list(VARIANTS[1:])
    for variant, gap in gaps.items():
        # within a bfloat16 rounding step of the largest output and input gradient
        assert gap["y"] <= 2 ** -7 * float(tf.reduce_max(tf.abs(tf.cast(y, tf.float32)))), variant
        assert gap["dx"] <= 2 ** -7 * float(tf.reduce_max(tf.abs(tf.cast(dx, tf.float32)))), variant
        assert gap["dgamma"] <= 1e-3 * float(tf.reduce_max(tf.abs(dgamma))) + 1e-4, variant
        assert gap["dbeta"] <= 1e-3 * float(tf.reduce_max(tf.abs(dbeta))) + 1e-4, variant
    with pytest.raises(ValueError, match="unknown variant"):
        training_pass("float64")
