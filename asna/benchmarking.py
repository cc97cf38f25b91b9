"""Steady-state training throughput of one network: pairs per second of ``model.fit``.

What is timed is the real training step: the network from ``build_model`` with a
config's ``[model]`` section (by default the original pre-training
hyperparameters, ``configs/<network>_pretrain.txt``), the full loss from its
``[loss]`` section (``build_loss``: MSE, PLCC and the ranking term, the learned
ranker by default), Adam, and the metrics training logs. The data is either one
constant in-memory batch repeated (only the model step is timed) or the real
``make_dataset`` pipeline over a temporary prepared file of random pairs.

The first ``warmup`` steps (tracing, compilation, the pipeline's start) are not
timed; the clock runs from the end of the last warm-up step to the end of the
last step. Keras turns each step's logs into Python numbers before a batch-end
callback sees them, so every recorded time is after the step really finished,
also on a GPU.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asna.config import NETWORKS, Config, load_config
from asna.errors import UserError
from asna.paths import resolve_repo_path

DATA_SOURCES = ("memory", "hdf5")
RANKERS = ("learned", "softrank")
ORIGINAL_SIZE, ORIGINAL_TILE = 288, 72
HDF5_PAIRS = 256  # pairs in the temporary file of --data hdf5 (at least 4 batches)


@dataclass
class ThroughputResult:
    """One benchmark run: what was timed and how fast it went."""

    network: str
    image_size: int
    batch_size: int
    steps: int
    warmup: int
    precision: str
    intensity_augment: bool
    data: str
    ranker: str
    device: str
    pairs_per_s: float
    s_per_step: float
    s_per_step_median: float
    cpu_s_per_step: float
    parameters: int
    config: str
    tile_size: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- set-up


def tile_size_for(image_size: int) -> int:
    """The tiled network's tile for an image size: 72 at 288, else a multiple of 8 near a quarter.

    The tile must divide the image size and be a multiple of 8 (three poolings).
    """
    if image_size == ORIGINAL_SIZE:
        return ORIGINAL_TILE
    candidates = [t for t in range(8, image_size + 1, 8) if image_size % t == 0]
    if not candidates:
        raise UserError(f"--image-size {image_size}: the tiled network needs a size with a divisor "
                        f"that is a multiple of 8 (e.g. 64, 128, 288)")
    return min(candidates, key=lambda tile: (abs(tile - image_size / 4), tile))


def benchmark_config(network: str, image_size: int, config_path: str | None = None,
                     ranker: str | None = None, batch_size: int = 16,
                     intensity_augment: bool | None = None) -> Config:
    """The config to time: ``config_path`` or the network's original pre-training config.

    ``model.image_size`` is set to ``image_size``; for the tiled network a tile
    that does not divide it is replaced by :func:`tile_size_for`. ``ranker``
    and ``intensity_augment`` (when given) override ``loss.ranker`` and
    ``data.intensity_augment``.
    """
    if network not in NETWORKS:
        raise UserError(f"--network {network!r}: choose from {', '.join(NETWORKS)}")
    path = config_path or resolve_repo_path(f"configs/{network}_pretrain.txt")
    overrides = [f"model.image_size={image_size}", f"training.batch_size={batch_size}",
                 "training.init_weights=''"]
    if ranker is not None:
        overrides.append(f"loss.ranker={ranker}")
    if intensity_augment is not None:
        overrides.append(f"data.intensity_augment={intensity_augment}")
    config = load_config(path, overrides)
    if config.model.network != network:
        raise UserError(f"{path}: [model] network is {config.model.network!r}, not {network!r}")
    if network == "tiled":
        tile = config.model.tile_size
        if image_size % tile != 0:
            tile = tile_size_for(image_size)
            config = load_config(path, overrides + [f"model.tile_size={tile}"])
    return config


def describe_device() -> str:
    """The GPU(s) TensorFlow will use by name, else ``CPU, N cores``."""
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name") or gpu.name)
        except (ValueError, RuntimeError):
            names.append(gpu.name)
    if names:
        return ", ".join(names)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"CPU, {cores} cores"


def random_batch(batch_size: int, image_size: int, seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """One batch ``((reference, distorted), y)`` of random uint8 images and standardised targets."""
    rng = np.random.default_rng(seed)
    shape = (batch_size, image_size, image_size, 3)
    references = rng.integers(0, 256, shape, dtype=np.uint8)
    distorted = rng.integers(0, 256, shape, dtype=np.uint8)
    return (references, distorted), rng.standard_normal(batch_size).astype(np.float32)


def memory_dataset(batch_size: int, image_size: int, seed: int = 0):
    """The same in-memory batch forever: no input cost, only the training step."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensors(random_batch(batch_size, image_size, seed)).repeat()


def write_random_pairs(path: str | os.PathLike, count: int, image_size: int, seed: int = 0) -> Path:
    """A prepared file of ``count`` random pairs (noise images, scores in 1-5) through ``PairWriter``."""
    from asna.data.layout import PairWriter

    rng = np.random.default_rng(seed)
    shape = (image_size, image_size, 3)
    with PairWriter(path, image_size, {"synthetic": (3.0, 1.0)}, split="train", split_seed=seed) as writer:
        for index in range(count):
            writer.append(rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8),
                          float(rng.uniform(1, 5)), f"P{index:05d}.bmp", f"R{index // 8:04d}", "synthetic")
    return Path(path)


def hdf5_dataset(path: str | os.PathLike, batch_size: int):
    """The real training pipeline (shuffled, repeating) over a prepared file."""
    from asna.data.pipeline import make_dataset

    return make_dataset(path, batch_size, training=True, seed=0)


# ----------------------------------------------------------------------------- timing


def make_step_timer(warmup: int):
    """A Keras callback recording wall and process CPU time at the end of each step from ``warmup - 1`` on."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.wall: list[float] = []
            self.cpu: list[float] = []

        def on_train_batch_end(self, batch, logs=None):
            # logs are already Python numbers here, so the step has finished
            if batch >= warmup - 1:
                self.wall.append(time.perf_counter())
                self.cpu.append(time.process_time())

    return StepTimer()


def time_training(model, dataset, warmup: int, steps: int) -> tuple[list[float], float]:
    """Run ``warmup + steps`` training steps in one ``fit``; per-step seconds and CPU seconds of the timed steps."""
    timer = make_step_timer(warmup)
    model.fit(dataset, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], shuffle=False,
              verbose=0)
    if len(timer.wall) != steps + 1:
        raise RuntimeError(f"expected {steps + 1} step times, got {len(timer.wall)}")
    return list(np.diff(timer.wall)), timer.cpu[-1] - timer.cpu[0]


def run_benchmark(network: str, image_size: int = ORIGINAL_SIZE, batch_size: int = 16, steps: int = 20,
                  warmup: int = 3, precision: str = "float32", data: str = "memory",
                  ranker: str | None = None, config_path: str | None = None,
                  seed: int = 0, intensity_augment: bool | None = None) -> ThroughputResult:
    """Time ``steps`` training steps of ``network`` after ``warmup`` untimed ones.

    The step includes the on-device augmentation the config's ``[data]`` asks
    for; ``precision`` is one of ``asna.precision.PRECISIONS`` (``auto`` is
    resolved and reported).
    """
    if steps < 1 or warmup < 1 or batch_size < 1:
        raise UserError("--steps, --warmup and --batch-size must be 1 or more "
                        "(the first step traces the model, so it is never timed)")
    if data not in DATA_SOURCES:
        raise UserError(f"--data {data!r}: choose from {', '.join(DATA_SOURCES)}")
    config = benchmark_config(network, image_size, config_path, ranker, batch_size, intensity_augment)
    import keras

    from asna.precision import precision_scope
    from asna.training import compile_model

    keras.utils.set_random_seed(seed)
    with precision_scope(precision) as policy:
        model = compile_model(config, init_weights=False)
        if data == "memory":
            step_times, cpu = time_training(model, memory_dataset(batch_size, image_size, seed), warmup, steps)
        else:
            with tempfile.TemporaryDirectory(prefix="asna_train_throughput_") as folder:
                path = write_random_pairs(Path(folder) / "pairs.h5", max(HDF5_PAIRS, 4 * batch_size),
                                          image_size, seed)
                step_times, cpu = time_training(model, hdf5_dataset(path, batch_size), warmup, steps)
    seconds = float(sum(step_times))
    return ThroughputResult(
        network=network, image_size=image_size, batch_size=batch_size, steps=steps, warmup=warmup,
        precision=policy, intensity_augment=config.data.intensity_augment, data=data, ranker=config.loss.ranker, device=describe_device(),
        pairs_per_s=round(steps * batch_size / seconds, 3), s_per_step=round(seconds / steps, 5),
        s_per_step_median=round(statistics.median(step_times), 5), cpu_s_per_step=round(cpu / steps, 5),
        parameters=int(model.count_params()), config=str(config.source),
        tile_size=config.model.tile_size if network == "tiled" else None)


def precision_warning(precision: str, device: str) -> str | None:
    """A warning when float16 is asked for without a GPU (it is emulated there)."""
    if precision == "mixed_float16" and device.startswith("CPU"):
        return ("warning: --precision mixed_float16 on a CPU: float16 is emulated there and is usually "
                "much slower than float32 (mixed_bfloat16 is the CPU's half type)")
    return None


def format_result(result: ThroughputResult) -> str:
    """The one human-readable line."""
    tile = f", tile {result.tile_size}" if result.tile_size else ""
    intensity = "on" if result.intensity_augment else "off"
    return (f"{result.network} ({result.parameters:,} parameters{tile}) {result.image_size}px batch "
            f"{result.batch_size} {result.precision}, intensity augmentation {intensity}, data {result.data}, "
            f"ranker {result.ranker} on {result.device}: "
            f"{result.pairs_per_s:.2f} pairs/s, {result.s_per_step:.4f} s/step "
            f"(median {result.s_per_step_median:.4f}), {result.cpu_s_per_step:.3f} CPU s/step "
            f"over {result.steps} steps after {result.warmup} warm-up")


def warn(message: str | None) -> None:
    """Print a warning line on stderr (nothing for None)."""
    if message:
        print(message, file=sys.stderr, flush=True)
