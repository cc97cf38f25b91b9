"""The two learned ranker architectures: the original 1-D CNN and a pairwise network.

* ``original``: the challenge entry's stack of Conv1D/BN/PReLU layers and a
  Dense(L) output, faithful to the published description.
* ``pairwise``: standardises each vector, compares every pair of elements with
  a tiny shared MLP and sums the "i beats j" probabilities. It is permutation
  equivariant and scale invariant by construction, which is what a ranker must
  be, so it learns in minutes what the original needs hours for.
"""

from __future__ import annotations

import keras
from keras import layers

from asna.core.errors import UserError

ARCHITECTURES = ("original", "pairwise")

# (filters, kernel size, batch norm) of the original ranker's Conv1D stack.
ORIGINAL_CONV_STACK = ((8, 2, False), (16, 3, True), (32, 5, True), (64, 7, True),
                       (96, 10, False), (128, 7, True), (256, 7, True))


@keras.saving.register_keras_serializable(package="asna")
class RowStandardize(layers.Layer):
    """Subtract each vector's mean and divide by its standard deviation (ranks do not change)."""

    def __init__(self, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        ops = keras.ops
        centred = inputs - ops.mean(inputs, axis=-1, keepdims=True)
        return centred / (ops.std(inputs, axis=-1, keepdims=True) + self.epsilon)

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="asna")
class PairwiseDifferences(layers.Layer):
    """(B, L) -> (B, L, L, 1) with entry [b, i, j] = x[b, i] - x[b, j]."""

    def call(self, inputs):
        ops = keras.ops
        return ops.expand_dims(ops.expand_dims(inputs, -1) - ops.expand_dims(inputs, -2), -1)


@keras.saving.register_keras_serializable(package="asna")
class SumOfWins(layers.Layer):
    """(B, L, L, 1) win probabilities -> (B, L) ranks: 1/2 + sum over partners j."""

    def call(self, inputs):
        return 0.5 + keras.ops.sum(keras.ops.squeeze(inputs, -1), axis=-1)


def build_original_ranker(length: int = 16) -> keras.Model:
    """The original Conv1D ranker: L scores in, L ranks out."""
    scores = keras.Input(shape=(length,), name="scores")
    x = layers.Reshape((length, 1))(scores)
    for filters, kernel_size, batch_norm in ORIGINAL_CONV_STACK:
        x = layers.Conv1D(filters, kernel_size, padding="same")(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        x = layers.PReLU()(x)
    ranks = layers.Dense(length, name="ranks")(layers.Flatten()(x))
    return keras.Model(scores, ranks, name="original_ranker")


def build_pairwise_ranker(length: int = 16, hidden_units: int = 16) -> keras.Model:
    """The pairwise ranker: a learned, shared "does i beat j" test summed over j."""
    scores = keras.Input(shape=(length,), name="scores")
    differences = PairwiseDifferences()(RowStandardize()(scores))
    x = layers.Dense(hidden_units, activation="tanh")(differences)
    x = layers.Dense(hidden_units, activation="tanh")(x)
    wins = layers.Dense(1, activation="sigmoid")(x)
    ranks = SumOfWins(name="ranks")(wins)
    return keras.Model(scores, ranks, name="pairwise_ranker")


def build_ranker(architecture: str, length: int = 16) -> keras.Model:
    """Build a ranker by name (``original`` or ``pairwise``)."""
    if architecture == "original":
        return build_original_ranker(length)
    if architecture == "pairwise":
        return build_pairwise_ranker(length)
    raise UserError(f"unknown ranker architecture {architecture!r} (known: {', '.join(ARCHITECTURES)})")


def load_ranker(path: str) -> keras.Model:
    """Load a saved ranker, frozen; a missing or unreadable file is a one-line UserError.

    It computes in float32 whatever the global dtype policy: its ranks feed the loss.
    """
    import os

    from asna.core.precision import policy_scope

    if not os.path.isfile(path):
        raise UserError(f"{path}: ranking model not found (train one with ranking_model/train.py)")
    try:
        with policy_scope("float32"):
            model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad archive
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path}: not a readable Keras model ({first_line})") from None
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 2 or model.inputs[0].shape[1] is None:
        raise UserError(f"{path}: not a ranking model (expected input shape (batch, L))")
    model.trainable = False
    return model


def ranker_length(model: keras.Model) -> int:
    """The vector length L a learned ranker was trained for."""
    return int(model.inputs[0].shape[1])
