"""Augmentation on the device: the OpenCV path's pixels, stateless draws, the train step."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from asna.core.errors import UserError
from asna.data import augment
from asna.data.augment import AugmentSettings
from asna.data.images import scale_lightness as opencv_scale_lightness


def expected_orientation(image: np.ndarray, code: int) -> np.ndarray:
    """The orientation ``code`` as the CPU path defined it: transpose, then left-right, then up-down."""
    image = image.transpose(1, 0, 2) if code & 1 else image
    image = image[:, ::-1] if code & 2 else image
    return image[::-1] if code & 4 else image


def test_orient_gives_each_of_the_eight_orientations():
    images = np.random.default_rng(0).integers(0, 256, (8, 5, 5, 3), dtype=np.uint8)
    images[:] = images[0]
    out = augment.orient(tf.constant(images), tf.range(8)).numpy()
    for code in range(8):
        np.testing.assert_array_equal(out[code], expected_orientation(images[0], code))
    dihedral = [np.rot90(images[0], k) for k in range(4)]
    dihedral += [np.fliplr(image) for image in dihedral]
    assert {o.tobytes() for o in out} == {o.tobytes() for o in dihedral}


def test_lightness_matches_opencv_to_within_rounding():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (6, 48, 48, 3), dtype=np.uint8)
    images[0] = 0
    images[1] = 255
    images[2] = np.arange(48 * 48 * 3).reshape(48, 48, 3) % 256  # ramps through every grey level
    for factor in (0.3, 0.55, 0.9, 1.2, 1.5):
        ours = augment.scale_lightness(tf.constant(images), tf.fill([6], factor)).numpy()
        theirs = np.stack([opencv_scale_lightness(image, factor) for image in images])
        difference = np.abs(ours.astype(int) - theirs)
        # OpenCV tabulates the sRGB curve, which is off by up to 2 levels near black
        assert difference.max() <= 2, factor
        assert (difference > 1).mean() < 1e-3, factor
        assert difference.mean() < 0.3, factor
        assert not np.array_equal(ours, images)


def test_pairs_share_orientation_and_factor_and_factor_one_is_exact():
    rng = np.random.default_rng(2)
    references = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    distorted = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    codes, factors = tf.constant([0, 3, 5, 6]), tf.constant([1.0, 0.4, 1.0, 1.3])
    out_references, out_distorted = augment.augment_pairs(references, distorted, codes, factors)
    for row, (code, factor) in enumerate(zip(codes.numpy(), factors.numpy())):
        for given, out in ((references, out_references), (distorted, out_distorted)):
            oriented = expected_orientation(given[row], int(code))
            expected = oriented if factor == 1 else opencv_scale_lightness(np.ascontiguousarray(oriented), factor)
            difference = np.abs(out[row].numpy().astype(int) - expected)
            assert difference.max() <= (0 if factor == 1 else 2)


def test_draws_are_a_pure_function_of_seed_step_and_replica():
    settings = AugmentSettings(orient=True, intensity=True, intensity_probability=0.5, seed=7)
    codes, factors = (t.numpy() for t in augment.draw(settings, 3, 0, 4000))
    again = augment.draw(settings, tf.constant(3, tf.int64), 0, 4000)
    np.testing.assert_array_equal(codes, again[0].numpy())
    np.testing.assert_array_equal(factors, again[1].numpy())
    for other in (augment.draw(settings, 4, 0, 4000), augment.draw(settings, 3, 1, 4000),
                  augment.draw(AugmentSettings(True, True, 0.5, seed=8), 3, 0, 4000)):
        assert not np.array_equal(codes, other[0].numpy())
    assert set(np.unique(codes)) == set(range(8))
    scaled = factors != 1.0
    assert 0.45 < scaled.mean() < 0.55  # the original's mix of plain and scaled pairs
    assert factors[scaled].min() >= 0.3 and factors[scaled].max() < 1.5
    plain = augment.draw(AugmentSettings(orient=False, intensity=False, seed=7), 3, 0, 100)
    assert not plain[0].numpy().any() and (plain[1].numpy() == 1).all()
    always = augment.draw(AugmentSettings(intensity=True, intensity_probability=1.0), 0, 0, 100)
    assert (always[1].numpy() != 1).all()


def test_probability_outside_zero_to_one_is_refused():
    with pytest.raises(UserError, match="data.intensity_probability 1.5"):
        AugmentSettings(intensity=True, intensity_probability=1.5)


def tiny_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    reference = keras.Input((8, 8, 3), dtype="uint8")
    distorted = keras.Input((8, 8, 3), dtype="uint8")
    pixels = keras.layers.Concatenate()([keras.ops.cast(reference, "float32") / 255,
                                         keras.ops.cast(distorted, "float32") / 255])
    score = keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(pixels)))
    model = keras.Model([reference, distorted], score)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def test_train_step_trains_on_the_pairs_augmented_at_the_optimizer_step(tmp_path):
    rng = np.random.default_rng(3)
    references = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    distorted = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    y = rng.standard_normal(4).astype(np.float32)
    settings = AugmentSettings(orient=True, intensity=True, intensity_probability=0.5, seed=11)

    augmented = tiny_model(0)
    augment.install(augmented, settings)
    augmented.optimizer.build(augmented.trainable_variables)
    augmented.optimizer.iterations.assign(5)  # as after a resume at step 5
    augmented.fit((references, distorted), y, batch_size=4, epochs=1, verbose=0, shuffle=False)

    by_hand = tiny_model(0)
    codes, factors = augment.draw(settings, 5, 0, 4)
    expected = augment.augment_pairs(references, distorted, codes, factors)
    assert not np.array_equal(expected[0].numpy(), references)
    by_hand.fit((expected[0].numpy(), expected[1].numpy()), y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for ours, theirs in zip(augmented.get_weights(), by_hand.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)

    plain = tiny_model(0)
    plain.fit((references, distorted), y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert not np.allclose(plain.get_weights()[0], augmented.get_weights()[0])

    # inference and the saved model know nothing of it
    np.testing.assert_allclose(augmented.predict((references, distorted), verbose=0),
                               augmented((references, distorted)).numpy(), rtol=1e-6)
    augmented.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(loaded.predict((references, distorted), verbose=0),
                               augmented.predict((references, distorted), verbose=0), rtol=1e-6)


def test_nothing_is_installed_when_augmentation_is_off():
    model = tiny_model(0)
    step = model.train_step
    augment.install(model, AugmentSettings(orient=False, intensity=True, intensity_probability=0.0))
    assert model.train_step == step
