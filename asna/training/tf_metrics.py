"""Correlation metrics and the PLCC loss term computed in the TensorFlow graph.

The original called SciPy through ``py_function`` during training, which cannot
be compiled and breaks distributed training; these are plain tensor maths.
"""

from __future__ import annotations

import tensorflow as tf

EPSILON = 1e-8


def _flat(values: tf.Tensor) -> tf.Tensor:
    return tf.reshape(tf.cast(values, tf.float32), [-1])


def tf_plcc(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Pearson correlation of two batches of scores (differentiable)."""
    true, pred = _flat(y_true), _flat(y_pred)
    true = true - tf.reduce_mean(true)
    pred = pred - tf.reduce_mean(pred)
    covariance = tf.reduce_sum(true * pred)
    scale = tf.sqrt(tf.reduce_sum(true ** 2) * tf.reduce_sum(pred ** 2))
    return covariance / (scale + EPSILON)


def tf_average_ranks(values: tf.Tensor) -> tf.Tensor:
    """Exact ranks 1..n with ties averaged, by comparing every pair (O(n^2), for batches)."""
    flat = _flat(values)
    below = tf.cast(flat[None, :] < flat[:, None], tf.float32)
    equal = tf.cast(tf.equal(flat[None, :], flat[:, None]), tf.float32)
    return tf.reduce_sum(below, axis=1) + 0.5 * (tf.reduce_sum(equal, axis=1) + 1.0)


def tf_srcc(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Spearman correlation with exact tie handling (not differentiable)."""
    return tf_plcc(tf_average_ranks(y_true), tf_average_ranks(y_pred))


def plcc_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """``1 - PLCC^2``: zero when predictions are any linear map of the targets."""
    return 1.0 - tf.square(tf_plcc(y_true, y_pred))


def abs_plcc_plus_abs_srcc(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """``|PLCC| + |SRCC|`` of a batch, the training-time view of the main score."""
    return tf.abs(tf_plcc(y_true, y_pred)) + tf.abs(tf_srcc(y_true, y_pred))


def one_minus_plcc2(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """The logged training metric ``1 - PLCC^2`` under the name training gives it."""
    return plcc_loss(y_true, y_pred)


def plcc_srcc(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """The logged training metric ``|PLCC| + |SRCC|`` under the name training gives it."""
    return abs_plcc_plus_abs_srcc(y_true, y_pred)


def register_logged_metrics() -> None:
    """Let ``keras.models.load_model`` find the compiled metrics, which Keras saves by bare name."""
    import keras

    keras.saving.get_custom_objects().update({"one_minus_plcc2": one_minus_plcc2, "plcc_srcc": plcc_srcc})


register_logged_metrics()
