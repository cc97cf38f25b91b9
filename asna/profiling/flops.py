"""How much arithmetic a network costs, and how much the machine can do: speed as a fraction of peak.

A pairs-per-second figure alone does not say whether a step is slow because the
network is large or because the hardware sits idle. Here:

* ``forward_flops`` / ``training_flops`` count floating-point operations per
  pair with TensorFlow's graph profiler (``tf.compat.v1.profiler`` with
  ``ProfileOptionBuilder.float_operation``) on a concrete function of the built
  model at batch 1: the forward pass in inference, and the training step's
  forward pass plus the gradients of every trainable weight. Convolutions and
  dense layers dominate both; element-wise ops count one per element, and the
  loss and optimiser update (a few operations per weight per batch) are left
  out. For these networks a training pair counts three forward passes (the
  backward pass computes one input gradient and one weight gradient per layer).
* ``matmul_peak`` times square matrix products in the precision's compute type
  (float32, bfloat16 or float16), the best of several rounds, in the calling
  process, so the peak is measured with the same threads and load as the
  figure it is set against.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Iterator

MATMUL_SIZE = 2048
MATMUL_ROUNDS, MATMUL_REPEATS = 5, 10
COMPUTE_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


@dataclass(frozen=True)
class NetworkFlops:
    """FLOPs per pair of one network at one input size."""

    forward: int
    training: int

    @property
    def training_over_forward(self) -> float:
        return self.training / self.forward


@contextlib.contextmanager
def _quiet_tensorflow_logs() -> Iterator[None]:
    """The v1 profiler logs a deprecation warning per call; the figures are all we want."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def graph_flops(graph: Any) -> int:
    """Floating-point operations of one run of a TensorFlow graph with static shapes."""
    import tensorflow as tf

    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    with _quiet_tensorflow_logs():
        profile = tf.compat.v1.profiler.profile(graph, options=options)
    return int(profile.total_float_ops)


def _pair_specs(model: Any) -> list:
    import tensorflow as tf

    return [tf.TensorSpec((1, *tensor.shape[1:]), tensor.dtype) for tensor in model.inputs]


def forward_flops(model: Any) -> int:
    """FLOPs of one pair through ``model`` in inference (batch 1, static shapes)."""
    import tensorflow as tf

    call = tf.function(lambda *inputs: model(list(inputs), training=False))
    return graph_flops(call.get_concrete_function(*_pair_specs(model)).graph)


def training_flops(model: Any) -> int:
    """FLOPs of one pair's training step: forward in training mode and every weight's gradient."""
    import tensorflow as tf

    def step(*inputs):
        with tf.GradientTape() as tape:
            score = model(list(inputs), training=True)
            total = tf.reduce_sum(tf.cast(score, tf.float32))
        return tape.gradient(total, model.trainable_variables)

    return graph_flops(tf.function(step).get_concrete_function(*_pair_specs(model)).graph)


def specified_model(model_section: Any):
    """The network a ``[model]`` section describes, built to be counted: float32 and as specified.

    float32: the arithmetic is the same in every precision, and a mixed policy
    only adds casts, which the profiler does not count. As specified (the paths
    that change the built graph off, ``speed_paths.GRAPH_PATHS``): the fold computes
    the same sums with about 2 % fewer operations, the blocked stem with more (its
    block kernels hold zeros), so every arm's GFLOP/s counts the same work and a
    faster path shows as a higher rate.
    """
    from asna.core.precision import policy_scope
    from asna.core.speed_paths import GRAPH_PATHS, paths_off
    from asna.models import build_model

    with policy_scope("float32"), paths_off(GRAPH_PATHS):
        return build_model(model_section)


def network_flops(model_section: Any) -> NetworkFlops:
    """Forward and training FLOPs per pair of the network a ``[model]`` section describes
    (counted on :func:`specified_model`)."""
    model = specified_model(model_section)
    return NetworkFlops(forward=forward_flops(model), training=training_flops(model))


def compute_dtype(precision: str) -> str:
    """The dtype a policy's layers compute in (``mixed_bfloat16`` -> ``bfloat16``)."""
    if precision not in COMPUTE_DTYPES:
        raise ValueError(f"precision {precision!r}: choose from {', '.join(COMPUTE_DTYPES)}")
    return COMPUTE_DTYPES[precision]


def matmul_peak(precision: str, size: int = MATMUL_SIZE, rounds: int = MATMUL_ROUNDS,
                repeats: int = MATMUL_REPEATS) -> float:
    """GFLOP/s of ``size`` x ``size`` matrix products in the compute type of ``precision``.

    Each round runs ``repeats`` products back to back and waits for the last
    (on a GPU the products queue in order, so the last finishing means all did);
    the best round is the peak.
    """
    import tensorflow as tf

    dtype = compute_dtype(precision)
    generator = tf.random.Generator.from_seed(0)
    left = tf.cast(generator.normal((size, size)), dtype)
    right = tf.cast(generator.normal((size, size)), dtype)
    tf.matmul(left, right).numpy()  # first call: kernel selection, memory
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            product = tf.matmul(left, right)
        product.numpy()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * size ** 3 / best / 1e9


def fraction_of_peak(pairs_per_s: float, flops_per_pair: int, peak_gflops: float) -> tuple[float, float]:
    """Achieved GFLOP/s and its share of ``peak_gflops``."""
    achieved = pairs_per_s * flops_per_pair / 1e9
    return achieved, achieved / peak_gflops
