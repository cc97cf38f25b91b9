"""BatchNorm's training pass on bfloat16 maps, three ways, timed against each other.

In a bfloat16 training step of the attention network at 288 px, BatchNorm and the
float32 copies of its maps around TensorFlow's fused kernel take about a third of
the op time (docs/benchmarks.md). This module holds the candidates for that pass
so one benchmark (``benchmarks/batch_norm_variants.py``) can time them on one map
and a test can check they compute the same thing:

* ``float32_copies``: what ``FusedBatchNormalization`` does in training: cast the
  map to float32, TensorFlow's fused kernel, cast back (and the same in the gradient);
* ``half_kernel``: the fused kernel fed the bfloat16 map directly (float32 statistics
  inside), no copies;
* ``xla_pass``: the statistics, normalisation and gradient written out in float32
  and compiled by XLA into passes over the bfloat16 map, with a custom gradient;
* ``grouped_kernel`` (maps whose channels divide 16): the map viewed as 16 channels so
  oneDNN's vectorised bfloat16 kernels compute the statistics and normalise, the input
  gradient one XLA-fused pass (``asna.models.layers.grouped_batch_norm_training``, what
  ``FusedBatchNormalization`` trains with on such maps). With a multiple of 16 channels,
  ``half_kernel`` is what it trains with.

Each returns the output, the input gradient and the gradients of gamma and beta.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

VARIANTS = ("float32_copies", "half_kernel", "xla_pass", "grouped_kernel")
EPSILON = 1e-3


def _xla_functions() -> tuple[Callable, Callable]:
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def forward(x, gamma, beta):
        values = tf.cast(x, tf.float32)
        mean = tf.reduce_mean(values, axis=[0, 1, 2])
        variance = tf.reduce_mean(tf.square(values - mean), axis=[0, 1, 2])
        scale = gamma * tf.math.rsqrt(variance + EPSILON)
        return tf.cast((values - mean) * scale + beta, x.dtype), mean, variance

    @tf.function(jit_compile=True)
    def backward(x, upstream, gamma, mean, variance):
        values, grads = tf.cast(x, tf.float32), tf.cast(upstream, tf.float32)
        inverse = tf.math.rsqrt(variance + EPSILON)
        normalised = (values - mean) * inverse
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
        beta_grad = tf.reduce_sum(grads, axis=[0, 1, 2])
        gamma_grad = tf.reduce_sum(grads * normalised, axis=[0, 1, 2])
        input_grad = (gamma * inverse / count) * (count * grads - beta_grad - normalised * gamma_grad)
        return tf.cast(input_grad, x.dtype), gamma_grad, beta_grad

    return forward, backward


def training_pass(variant: str) -> Callable:
    """A traced function ``(x, upstream, gamma, beta) -> (y, dx, dgamma, dbeta)`` for ``variant``."""
    import tensorflow as tf

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if variant == "xla_pass":
        forward, backward = _xla_functions()

        @tf.function
        def fused(x, upstream, gamma, beta):
            y, mean, variance = forward(x, gamma, beta)
            return (y, *backward(x, upstream, gamma, mean, variance))
        return fused

    if variant == "grouped_kernel":
        from asna.models.layers import grouped_batch_norm_training

        @tf.function
        def grouped(x, upstream, gamma, beta):
            with tf.GradientTape() as tape:
                tape.watch([x, gamma, beta])
                y = grouped_batch_norm_training(x, gamma, beta, EPSILON)[0]
            return (y, *tape.gradient(y, [x, gamma, beta], output_gradients=upstream))
        return grouped

    copies = variant == "float32_copies"

    @tf.function
    def kernel(x, upstream, gamma, beta):
        with tf.GradientTape() as tape:
            tape.watch([x, gamma, beta])
            inputs = tf.cast(x, tf.float32) if copies else x
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, mean=tf.zeros_like(gamma), variance=tf.ones_like(gamma),
                epsilon=EPSILON, is_training=True, exponential_avg_factor=0.01)
            y = tf.cast(y, x.dtype)
        return (y, *tape.gradient(y, [x, gamma, beta], output_gradients=upstream))
    return kernel


def variants_for(channels: int) -> tuple[str, ...]:
    """The variants a map of ``channels`` channels can take: ``grouped_kernel`` only where they divide 16."""
    return tuple(v for v in VARIANTS if v != "grouped_kernel" or 16 % channels == 0)


def example_inputs(shape: tuple[int, int, int, int], seed: int = 0) -> tuple:
    """A bfloat16 map, an upstream gradient of its shape, and float32 gamma and beta."""
    import tensorflow as tf

    generator = tf.random.Generator.from_seed(seed)
    x = tf.cast(generator.normal(shape), tf.bfloat16)
    upstream = tf.cast(generator.normal(shape), tf.bfloat16)
    channels = shape[-1]
    return x, upstream, generator.uniform((channels,)) + 0.5, generator.normal((channels,))


RESULTS = ("y", "dx", "dgamma", "dbeta")


def compare_variants(shape: tuple[int, int, int, int], rounds: int = 3, repeats: int = 5
                     ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Each variant traced once; returns its median wall and CPU seconds per pass, timed in turn
    (A B C A B C ...), and, for all but the default, the largest absolute difference of each result
    (``RESULTS``) from ``float32_copies``'s."""
    import tensorflow as tf

    inputs = example_inputs(shape)
    names = variants_for(shape[-1])
    passes = {variant: training_pass(variant) for variant in names}
    first = {variant: function(*inputs) for variant, function in passes.items()}  # traced outside the timing
    differences = {variant: {name: float(tf.reduce_max(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32))))
                             for name, a, b in zip(RESULTS, first[variant], first[VARIANTS[0]])}
                   for variant in names[1:]}
    times: dict[str, dict[str, list[float]]] = {v: {"wall_s": [], "cpu_s": []} for v in names}
    for _ in range(rounds):
        for variant, function in passes.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(repeats):
                [tensor.numpy() for tensor in function(*inputs)]
            times[variant]["wall_s"].append((time.perf_counter() - wall) / repeats)
            times[variant]["cpu_s"].append((time.process_time() - cpu) / repeats)
    medians = {variant: {key: statistics.median(values) for key, values in figures.items()}
               for variant, figures in times.items()}
    return medians, differences
