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

Each figure comes with the network's FLOPs per training pair and the machine's
matrix-multiply peak in the same precision, measured in the same process
(``asna.profiling.flops``), so it can be read as a fraction of what the hardware can do.
``old_paths`` times the code before some of ``asna.core.speed_paths``' faster paths;
``jit_compile`` and ``steps_per_execution`` are Keras's own switches.
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

from asna.core.config import NETWORKS, Config, load_config
from asna.core.errors import UserError
from asna.core.paths import resolve_repo_path

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
    jit_compile: str = "auto"
    steps_per_execution: int = 1
    old_paths: tuple[str, ...] = ()
    inter_op_threads: int = 0
    intra_op_threads: int = 0
    training_gflop_per_pair: float | None = None
    achieved_gflops: float | None = None
    peak_gflops: float | None = None
    fraction_of_peak: float | None = None
    op_profile: dict[str, Any] | None = None

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
    from asna.data.workers import available_cpus

    return f"CPU, {available_cpus()} cores"


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


def time_training(model, dataset, warmup: int, steps: int, steps_per_execution: int = 1
                  ) -> tuple[list[float], float]:
    """Run ``warmup + steps`` training steps in one ``fit``; per-step seconds and CPU seconds of the timed steps.

    With ``steps_per_execution`` N, Keras runs N steps per call and calls back
    once per call: each call's time is shared evenly by its N steps
    (``warmup`` and ``steps`` must then be multiples of N).
    """
    if warmup % steps_per_execution or steps % steps_per_execution:
        raise UserError(f"--warmup {warmup} and --steps {steps} must be multiples of "
                        f"--steps-per-execution {steps_per_execution}")
    timer = make_step_timer(warmup)
    model.fit(dataset, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], shuffle=False,
              verbose=0)
    calls = steps // steps_per_execution
    if len(timer.wall) != calls + 1:
        raise RuntimeError(f"expected {calls + 1} step times, got {len(timer.wall)}")
    per_step = [float(t) / steps_per_execution for t in np.diff(timer.wall) for _ in range(steps_per_execution)]
    return per_step, timer.cpu[-1] - timer.cpu[0]


JIT_CHOICES = ("auto", "on", "off")


def set_threads(inter_op: int | None, intra_op: int | None) -> None:
    """TensorFlow's inter- and intra-op thread counts (None: TensorFlow's pick); call before any op runs."""
    import tensorflow as tf

    if inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    if intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)


def set_step_compilation(model, jit_compile: str, steps_per_execution: int) -> None:
    """Keras's whole-step XLA switch and steps per call on a compiled model (``auto``: Keras's pick)."""
    if jit_compile not in JIT_CHOICES:
        raise UserError(f"--jit-compile {jit_compile!r}: choose from {', '.join(JIT_CHOICES)}")
    if jit_compile != "auto":
        model.jit_compile = jit_compile == "on"
    model.steps_per_execution = steps_per_execution
    model.train_function = None  # made again with these settings on the next fit


def peak_figures(pairs_per_s: float, flops_per_pair: int | None, precision: str,
                 measure_peak: bool) -> dict[str, float | None]:
    """GFLOP per pair, achieved GFLOP/s, the matmul peak in ``precision`` and the fraction."""
    from asna.profiling.flops import fraction_of_peak, matmul_peak

    if flops_per_pair is None:
        return {}
    achieved = pairs_per_s * flops_per_pair / 1e9
    figures: dict[str, float | None] = {"achieved_gflops": round(achieved, 2)}
    if measure_peak:
        peak = matmul_peak(precision)
        figures.update(peak_gflops=round(peak, 1), fraction_of_peak=round(fraction_of_peak(
            pairs_per_s, flops_per_pair, peak)[1], 4))
    return figures


def run_benchmark(network: str, image_size: int = ORIGINAL_SIZE, batch_size: int = 16, steps: int = 20,
                  warmup: int = 3, precision: str = "float32", data: str = "memory",
                  ranker: str | None = None, config_path: str | None = None,
                  seed: int = 0, intensity_augment: bool | None = None, jit_compile: str = "auto",
                  steps_per_execution: int = 1, old_paths: tuple[str, ...] = (),
                  measure_peak: bool = True, profile_steps: int = 0) -> ThroughputResult:
    """Time ``steps`` training steps of ``network`` after ``warmup`` untimed ones.

    The step includes the on-device augmentation the config's ``[data]`` asks
    for; ``precision`` is one of ``asna.core.precision.PRECISIONS`` (``auto`` is
    resolved and reported). ``old_paths`` names faster paths of
    ``asna.core.speed_paths`` to turn off (for the rest of the process).
    ``measure_peak``: also time the matmul peak in that precision afterwards.
    ``profile_steps``: then run that many more steps under TensorFlow's profiler
    and keep where their op time went (``asna.profiling.op_profile``).
    """
    if steps < 1 or warmup < 1 or batch_size < 1 or steps_per_execution < 1:
        raise UserError("--steps, --warmup, --batch-size and --steps-per-execution must be 1 or more "
                        "(the first step traces the model, so it is never timed)")
    if data not in DATA_SOURCES:
        raise UserError(f"--data {data!r}: choose from {', '.join(DATA_SOURCES)}")
    config = benchmark_config(network, image_size, config_path, ranker, batch_size, intensity_augment)
    old_paths = tuple(checked_paths(old_paths))
    import keras
    import tensorflow as tf

    from asna.core.precision import precision_scope
    from asna.core.speed_paths import turn_off
    from asna.profiling.flops import network_flops
    from asna.training.loop import compile_model

    turn_off(old_paths)
    flops = network_flops(config.model) if network != "tiled" else None
    keras.utils.set_random_seed(seed)
    profile = None
    with precision_scope(precision) as policy, \
            tempfile.TemporaryDirectory(prefix="asna_train_throughput_") as folder:
        model = compile_model(config, init_weights=False)
        set_step_compilation(model, jit_compile, steps_per_execution)
        if data == "memory":
            dataset = memory_dataset(batch_size, image_size, seed)
        else:
            dataset = hdf5_dataset(write_random_pairs(Path(folder) / "pairs.h5", max(HDF5_PAIRS, 4 * batch_size),
                                                      image_size, seed), batch_size)
        step_times, cpu = time_training(model, dataset, warmup, steps, steps_per_execution)
        if profile_steps:
            from asna.profiling.op_profile import profile_ops

            profile = profile_ops(lambda: model.fit(dataset, epochs=1, steps_per_epoch=profile_steps,
                                                    shuffle=False, verbose=0))
    seconds = float(sum(step_times))
    pairs_per_s = steps * batch_size / seconds
    return ThroughputResult(
        network=network, image_size=image_size, batch_size=batch_size, steps=steps, warmup=warmup,
        precision=policy, intensity_augment=config.data.intensity_augment, data=data, ranker=config.loss.ranker, device=describe_device(),
        pairs_per_s=round(pairs_per_s, 3), s_per_step=round(seconds / steps, 5),
        s_per_step_median=round(statistics.median(step_times), 5), cpu_s_per_step=round(cpu / steps, 5),
        parameters=int(model.count_params()), config=str(config.source),
        tile_size=config.model.tile_size if network == "tiled" else None,
        jit_compile=jit_compile, steps_per_execution=steps_per_execution, old_paths=old_paths,
        inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
        intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
        training_gflop_per_pair=round(flops.training / 1e9, 4) if flops else None, op_profile=profile,
        **peak_figures(pairs_per_s, flops.training if flops else None, policy, measure_peak))


def checked_paths(names) -> list[str]:
    """Speed path names, each known (one ``UserError`` naming the unknown ones)."""
    from asna.core.speed_paths import check_names

    try:
        return check_names(names)
    except ValueError as error:
        raise UserError(f"--old-path: {error}") from None


def precision_warning(precision: str, device: str) -> str | None:
    """A warning when float16 is asked for without a GPU (it is emulated there)."""
    if precision == "mixed_float16" and device.startswith("CPU"):
        return ("warning: --precision mixed_float16 on a CPU: float16 is emulated there and is usually "
                "much slower than float32 (mixed_bfloat16 is the CPU's half type)")
    return None


def format_result(result: ThroughputResult) -> str:
    """The human-readable lines: what ran, how fast, and against the machine's peak."""
    tile = f", tile {result.tile_size}" if result.tile_size else ""
    intensity = "on" if result.intensity_augment else "off"
    switches = [f"jit_compile {result.jit_compile}"] if result.jit_compile != "auto" else []
    if result.steps_per_execution > 1:
        switches.append(f"{result.steps_per_execution} steps per execution")
    if result.old_paths:
        switches.append(f"old path(s): {', '.join(result.old_paths)}")
    if result.inter_op_threads or result.intra_op_threads:
        switches.append(f"threads inter-op {result.inter_op_threads or 'default'}, "
                        f"intra-op {result.intra_op_threads or 'default'}")
    text = (f"{result.network} ({result.parameters:,} parameters{tile}) {result.image_size}px batch "
            f"{result.batch_size} {result.precision}, intensity augmentation {intensity}, data {result.data}, "
            f"ranker {result.ranker}{''.join(', ' + s for s in switches)} on {result.device}: "
            f"{result.pairs_per_s:.2f} pairs/s, {result.s_per_step:.4f} s/step "
            f"(median {result.s_per_step_median:.4f}), {result.cpu_s_per_step:.3f} CPU s/step "
            f"over {result.steps} steps after {result.warmup} warm-up")
    text += format_peak(result.training_gflop_per_pair, "training pair", result.achieved_gflops,
                        result.peak_gflops, result.fraction_of_peak, result.precision)
    if result.op_profile:
        from asna.profiling.op_profile import format_profile

        text += "\n" + format_profile(result.op_profile)
    return text


def format_peak(gflop_per_pair: float | None, what: str, achieved: float | None, peak: float | None,
                fraction: float | None, precision: str) -> str:
    """``\n<GFLOP> per <what>: <achieved> GFLOP/s = <fraction> of the <peak> matmul peak``, or nothing."""
    if gflop_per_pair is None or achieved is None:
        return ""
    line = f"\n{gflop_per_pair:.3f} GFLOP per {what}: {achieved:.1f} GFLOP/s"
    if peak is not None and fraction is not None:
        line += (f" = {100 * fraction:.1f} % of the {peak:.0f} GFLOP/s matmul peak in "
                 f"{precision.replace('mixed_', '')} measured in this run")
    return line


def warn(message: str | None) -> None:
    """Print a warning line on stderr (nothing for None)."""
    if message:
        print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- scoring


SCORING_CASES = ("1_model_tta_none", "1_model_tta_full", "3_models_tta_none", "3_models_tta_full",
                 "folder_1_model_tta_full")
PIPAL_SCALE = {"pipal": (1449.05, 121.35)}


@dataclass
class ScoringResult:
    """One scoring case: pairs per second and the arithmetic behind them."""

    case: str
    models: int
    tta: str
    variants: int
    pairs: int
    seconds: float
    pairs_per_s: float
    gflop_per_pair: float
    achieved_gflops: float
    peak_gflops: float | None = None
    fraction_of_peak: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def untrained_scorer(network: str, image_size: int, count: int, batch_size: int):
    """A ``QualityScorer`` of ``count`` untrained networks (the weights do not change the cost)."""
    import keras

    from asna.evaluation.scorer import ModelInfo, QualityScorer
    from asna.models import build_model

    models, infos = [], []
    for index in range(count):
        keras.utils.set_random_seed(index)
        models.append(build_model({"network": network, "image_size": image_size}))
        infos.append(ModelInfo(Path(f"untrained_{index}.keras"), network, image_size, PIPAL_SCALE))
    return QualityScorer(models, infos, batch_size)


def write_challenge_folder(folder: str | os.PathLike, count: int, image_size: int, seed: int = 0
                           ) -> tuple[Path, Path]:
    """``Ref/`` and ``Dis/`` of ``count`` BMP pairs named as NTIRE names them (A0000.bmp, A0000_00_00.bmp)."""
    import cv2

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    ref_dir, dis_dir = folder / "Ref", folder / "Dis"
    ref_dir.mkdir(parents=True, exist_ok=True)
    dis_dir.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        reference = rng.integers(0, 256, (image_size, image_size, 3), dtype=np.uint8)
        noise = rng.integers(-20, 21, reference.shape)
        distorted = np.clip(reference.astype(np.int64) + noise, 0, 255).astype(np.uint8)
        cv2.imwrite(str(ref_dir / f"A{index:04d}.bmp"), reference)
        cv2.imwrite(str(dis_dir / f"A{index:04d}_00_00.bmp"), distorted)
    return ref_dir, dis_dir


def time_scoring_case(case: str, network: str, image_size: int, pairs: int, batch_size: int,
                      precision: str, forward_flops: int, measure_peak: bool, seed: int = 0) -> ScoringResult:
    """Score ``pairs`` random pairs once as ``case`` says, after one untimed call of the same shapes.

    ``folder_...`` cases score a temporary challenge folder of BMP files through
    ``evaluation_ntire.py``'s path (decoding, batching, TTA, models) with the
    progress bar off; the others call ``score_pairs`` on arrays in memory.
    """
    from asna.core.precision import precision_scope
    from asna.evaluation import tta as tta_module
    from asna.evaluation.folders import match_pairs, score_folder_pairs

    if case not in SCORING_CASES:
        raise UserError(f"--cases {case!r}: choose from {', '.join(SCORING_CASES)}")
    count, mode = (3 if case.startswith("3_") else 1), case.rsplit("_", 1)[1]
    with precision_scope(precision, "inference"):
        scorer = untrained_scorer(network, image_size, count, batch_size)
    rng = np.random.default_rng(seed)
    shape = (pairs, image_size, image_size, 3)
    references = rng.integers(0, 256, shape, dtype=np.uint8)
    distorted = rng.integers(0, 256, shape, dtype=np.uint8)
    # once untimed, at the batch shapes of the timed call: tracing, XLA's compilation of
    # the fused passes for each batch shape, OpenCV's Lab tables
    scorer.score_pairs(references, distorted, tta=mode)
    with tempfile.TemporaryDirectory(prefix="asna_scoring_") as folder:
        if case.startswith("folder_"):
            folder_pairs = match_pairs(*write_challenge_folder(folder, pairs, image_size, seed))
            start = time.perf_counter()
            score_folder_pairs(scorer, folder_pairs, mode, "tile", None, progress=False)
        else:
            start = time.perf_counter()
            scorer.score_pairs(references, distorted, tta=mode)
        seconds = time.perf_counter() - start
    variants = len(tta_module.variants(mode))
    flops = forward_flops * variants * count
    rate = pairs / seconds
    return ScoringResult(case=case, models=count, tta=mode, variants=variants, pairs=pairs,
                         seconds=round(seconds, 3), pairs_per_s=round(rate, 3),
                         gflop_per_pair=round(flops / 1e9, 3),
                         **peak_figures(rate, flops, precision, measure_peak))


def run_scoring_benchmark(cases: list[str], network: str = "attention", image_size: int = ORIGINAL_SIZE,
                          pairs: int = 8, batch_size: int = 16, precision: str = "float32",
                          old_paths: tuple[str, ...] = (), measure_peak: bool = True
                          ) -> tuple[str, list[ScoringResult]]:
    """Every case in ``cases``; returns the resolved precision and one result per case.

    The matmul peak is timed once, after the first case, and shared.
    """
    from asna.core.precision import resolve_precision
    from asna.core.speed_paths import turn_off
    from asna.profiling.flops import forward_flops, matmul_peak, specified_model

    unknown = [case for case in cases if case not in SCORING_CASES]
    if unknown or not cases:
        raise UserError(f"--cases {','.join(unknown) or '(none)'}: choose from {', '.join(SCORING_CASES)}")
    turn_off(checked_paths(old_paths))
    policy = resolve_precision(precision)[0]
    flops = forward_flops(specified_model({"network": network, "image_size": image_size}))
    results = [time_scoring_case(case, network, image_size, pairs, batch_size, policy, flops, False)
               for case in cases]
    if measure_peak:
        peak = matmul_peak(policy)
        for result in results:
            result.peak_gflops = round(peak, 1)
            result.fraction_of_peak = round(result.achieved_gflops / peak, 4)
    return policy, results


def format_scoring(result: ScoringResult, precision: str) -> str:
    """One line per scoring case, with its fraction of the matmul peak."""
    line = (f"{result.case:24s} {result.pairs_per_s:8.3f} pairs/s ({result.pairs} pairs in {result.seconds:.2f} s; "
            f"{result.gflop_per_pair:.1f} GFLOP per pair, {result.achieved_gflops:.1f} GFLOP/s")
    if result.fraction_of_peak is not None:
        line += f" = {100 * result.fraction_of_peak:.1f} % of the {result.peak_gflops:.0f} GFLOP/s " \
                f"{precision.replace('mixed_', '')} matmul peak"
    return line + ")"
