"""Which Keras dtype policy a run computes in, chosen for the hardware it runs on.

``auto`` picks ``mixed_float16`` on a GPU of compute capability 7.0 or more
(tensor cores), ``mixed_bfloat16`` on a CPU with AVX-512 BF16 or AMX (oneDNN
runs bfloat16 convolutions natively there; float16 would be emulated and slow)
and ``float32`` everywhere else. Under a mixed policy the layers keep float32
weights and compute in the half type; the score head, the loss, the ranker
and the metrics stay float32 (they cast, or were built float32).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterable, Iterator

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")
MIN_FLOAT16_CAPABILITY = (7, 0)


def cpu_flags(path: str | os.PathLike = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags the kernel lists (empty where there is no such file)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name.strip() == "flags":
                    return set(value.split())
    except OSError:
        pass
    return set()


def gpu_capabilities() -> list[tuple[int, int] | None]:
    """Compute capability of each GPU TensorFlow sees (None where it does not say)."""
    import tensorflow as tf

    capabilities: list[tuple[int, int] | None] = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        except (ValueError, RuntimeError):
            capability = None
        capabilities.append(tuple(capability) if capability else None)  # type: ignore[arg-type]
    return capabilities


def choose_precision(gpus: Iterable[tuple[int, int] | None], flags: Iterable[str]) -> tuple[str, str]:
    """The ``auto`` pick for these GPUs and CPU flags, and why, in a few words."""
    gpus = list(gpus)
    if gpus:
        if all(capability is not None and capability >= MIN_FLOAT16_CAPABILITY for capability in gpus):
            return "mixed_float16", "GPU of compute capability 7.0 or more"
        return "float32", "GPU without float16 tensor cores (compute capability below 7.0)"
    present = [flag for flag in CPU_BF16_FLAGS if flag in set(flags)]
    if present:
        return "mixed_bfloat16", f"CPU with {', '.join(present)}"
    return "float32", "CPU without AVX-512 BF16 or AMX"


def resolve_precision(requested: str) -> tuple[str, str]:
    """The policy name for ``requested`` (one of ``PRECISIONS``) and why it was chosen."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision {requested!r}: choose from {', '.join(PRECISIONS)}")
    if requested != "auto":
        return requested, "asked for"
    return choose_precision(gpu_capabilities(), cpu_flags())


def apply_precision(requested: str, what: str = "training") -> str:
    """Set Keras's global dtype policy for ``requested``, print the pick, return the policy name.

    Call before building models: layers take the policy current when they are made.
    """
    import keras

    name, reason = resolve_precision(requested)
    keras.mixed_precision.set_global_policy(name)
    print(f"{what} precision: {name} ({'auto: ' if requested == 'auto' else ''}{reason})", flush=True)
    return name


@contextlib.contextmanager
def policy_scope(name: str) -> Iterator[None]:
    """Keras's global dtype policy ``name`` for the block only (what is built or loaded there)."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@contextlib.contextmanager
def precision_scope(requested: str, what: str = "training") -> Iterator[str]:
    """``apply_precision`` for the block only; the previous global policy comes back afterwards."""
    with policy_scope("float32"):
        yield apply_precision(requested, what)


# ---------------------------------------------------------------- inference

FLOAT32_LAYERS = ("head_squash", "score")
"""The networks' score head (asna.models.blocks), which computes in float32 under any policy."""

_inference = {"requested": "float32"}


def use_inference_precision(requested: str) -> None:
    """What ``for_inference`` converts loaded models to (``--precision`` of the evaluation scripts).

    Nothing is resolved or imported here, so a script can set it before TensorFlow loads.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision {requested!r}: choose from {', '.join(PRECISIONS)}")
    _inference["requested"] = requested


def with_policy(model, name: str):
    """A copy of a loaded network computing under dtype policy ``name``, with the same weights.

    A saved model keeps the policy it was trained in; this rebuilds every layer
    but the score head under ``name`` and copies the weights over.
    """

    def rebuild(layer):
        config = layer.get_config()
        if "dtype" in config and layer.name not in FLOAT32_LAYERS:
            config["dtype"] = name
        return layer.__class__.from_config(config)

    return rebuilt(model, rebuild)


def rebuilt(model, rebuild):
    """A copy of ``model`` (nested models included) with each layer replaced by ``rebuild(layer)``
    and the weights copied over: the replacements must hold the same weights in the same order."""
    import keras

    copy = keras.models.clone_model(model, clone_function=rebuild, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def for_inference(model):
    """``model`` computing under the precision ``use_inference_precision`` chose (float32 unless asked).

    A model saved under a mixed policy is rebuilt in float32 by default, so
    scores are exact whatever the model was trained in.
    """
    requested = _inference["requested"]
    name, reason = resolve_precision(requested)
    if all(layer.dtype_policy.name == name for layer in all_layers(model)
           if layer.name not in FLOAT32_LAYERS and not isinstance(layer, _input_layer_type())):
        return model
    print(f"inference precision: {name} ({'auto: ' if requested == 'auto' else ''}{reason})", flush=True)
    return with_policy(model, name)


def all_layers(model) -> list:
    """Every layer of ``model``, those of nested models included."""
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if hasattr(layer, "layers"):
            layers.extend(all_layers(layer))
    return layers


def _input_layer_type() -> type:
    import keras

    return keras.layers.InputLayer
