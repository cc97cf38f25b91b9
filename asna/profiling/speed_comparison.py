"""The side-by-side speed comparison: the code before the faster paths against the code with them.

One process, one sitting, so every configuration sees the same machine and
load: for each precision it builds one model per configuration ("arm"), traces
and warms each up, then times them in turn, A B A B ..., for several rounds,
and reports medians.

* training: the attention network (or another) at 288 px, batch 16, the full
  loss with the learned ranker, Adam, the on-device augmentation, through the
  HDF5 pipeline over a temporary file of random pairs; each timed call runs
  one untimed step (the pipeline's start) and then the timed steps;
* folder scoring: a temporary challenge folder (``Ref/``, ``Dis/`` BMP files)
  scored with full TTA (22 variants) through ``evaluation_ntire.py``'s path.

Arms: ``before`` (every path of ``asna.core.speed_paths`` off), ``now`` (all on) and
``now without X`` for each path that acts there, so each path's share shows.
``candidates`` adds Keras's own switches that measured no gain on a CPU
(whole-step XLA, several steps per execution) so they can be checked again.
Every figure comes with its GFLOP/s and its fraction of the matmul peak
measured in the same process at the end.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from asna.core.speed_paths import NAMES, paths_off

ORIGINAL_PAIRS_PER_S = (15.4, 16.0)
"""The original implementation's attention training at 288 px, batch 16, float32 (TF 2.21, legacy Keras),
measured side by side with this code on the 2-core development machine in an earlier sitting."""
TRAINING_PATHS = ("fused_difference", "half_batch_norm_training", "folded_upsampling", "subpixel_upsampling",
                  "space_to_depth_stem")
SCORING_PATHS = ("fused_difference", "half_batch_norm_inference", "folded_upsampling", "subpixel_upsampling",
                 "plain_stem_scoring", "shared_lab_tta", "prefetch_tta")
"""The scoring arms' paths: with plain_stem_scoring on, scoring computes f1 as plain convolutions
whether or not space_to_depth_stem built it on blocks, so the arm without the stem is not timed."""


@dataclass(frozen=True)
class Arm:
    """One configuration: which faster paths are off, and Keras's step switches."""

    label: str
    old_paths: tuple[str, ...] = ()
    jit_compile: str = "auto"
    steps_per_execution: int = 1


def arms_for(paths: Iterable[str], candidates: bool = False) -> list[Arm]:
    """``before``, ``now`` and ``now without X`` for each of ``paths`` (the last only for two or more)."""
    paths = tuple(paths)
    arms = [Arm("before", tuple(NAMES)), Arm("now")]
    if len(paths) > 1:
        arms += [Arm(f"now without {name}", (name,)) for name in paths]
    if candidates:
        arms += [Arm("now + jit_compile on", jit_compile="on"), Arm("now + 4 steps per execution",
                                                                     steps_per_execution=4)]
    return arms


@dataclass
class ArmResult:
    """The timed rounds of one arm in one precision."""

    kind: str
    precision: str
    arm: str
    pairs_per_s: list[float] = field(default_factory=list)
    cpu_s_per_pair: list[float] = field(default_factory=list)
    gflop_per_pair: float = 0.0
    peak_gflops: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.pairs_per_s)

    def summary(self) -> dict[str, Any]:
        achieved = self.median * self.gflop_per_pair
        return {"kind": self.kind, "precision": self.precision, "arm": self.arm,
                "rounds": len(self.pairs_per_s), "pairs_per_s_median": round(self.median, 3),
                "pairs_per_s": [round(value, 3) for value in self.pairs_per_s],
                "cpu_ms_per_pair_median": round(1000 * statistics.median(self.cpu_s_per_pair), 1),
                "gflop_per_pair": round(self.gflop_per_pair, 3), "achieved_gflops": round(achieved, 2),
                "peak_gflops": self.peak_gflops,
                "fraction_of_peak": round(achieved / self.peak_gflops, 4) if self.peak_gflops else None}


def _alternate(arms: list[Arm], rounds: int, measure: Callable[[Arm], tuple[float, float]],
               results: dict[str, ArmResult], emit: Callable[[dict], None]) -> None:
    for round_index in range(rounds):
        for arm in arms:
            pairs_per_s, cpu_per_pair = measure(arm)
            result = results[arm.label]
            result.pairs_per_s.append(pairs_per_s)
            result.cpu_s_per_pair.append(cpu_per_pair)
            emit({"kind": result.kind, "precision": result.precision, "arm": arm.label, "round": round_index + 1,
                  "pairs_per_s": round(pairs_per_s, 3), "cpu_ms_per_pair": round(1000 * cpu_per_pair, 1),
                  "load_average": round(os.getloadavg()[0], 2)})


def compare_training(precision: str, arms: list[Arm], rounds: int, steps: int, network: str = "attention",
                     image_size: int = 288, batch_size: int = 16, emit: Callable[[dict], None] = print
                     ) -> list[ArmResult]:
    """Each arm's training pairs/s through the HDF5 pipeline, alternating, ``rounds`` times."""
    import keras

    from asna.core.precision import precision_scope
    from asna.profiling.flops import matmul_peak, network_flops
    from asna.profiling.throughput import (HDF5_PAIRS, benchmark_config, hdf5_dataset, set_step_compilation,
                                           time_training, write_random_pairs)
    from asna.training.loop import compile_model

    config = benchmark_config(network, image_size, batch_size=batch_size)
    gflop = network_flops(config.model).training / 1e9
    models, datasets = {}, {}
    with tempfile.TemporaryDirectory(prefix="asna_speed_comparison_") as folder, \
            precision_scope(precision) as policy:
        path = write_random_pairs(Path(folder) / "pairs.h5", max(HDF5_PAIRS, 4 * batch_size), image_size)
        for arm in arms:
            with paths_off(arm.old_paths):
                keras.utils.set_random_seed(0)
                model = compile_model(config, init_weights=False)
                set_step_compilation(model, arm.jit_compile, arm.steps_per_execution)
                datasets[arm.label] = hdf5_dataset(path, batch_size)
                unit = arm.steps_per_execution
                time_training(model, datasets[arm.label], unit, unit, unit)  # traces, compiles, warms up
                models[arm.label] = model
        results = {arm.label: ArmResult("training", policy, arm.label, gflop_per_pair=gflop) for arm in arms}

        def measure(arm: Arm) -> tuple[float, float]:
            unit = arm.steps_per_execution
            timed = max(unit, steps - steps % unit)
            step_times, cpu = time_training(models[arm.label], datasets[arm.label], unit, timed, unit)
            return timed * batch_size / sum(step_times), cpu / (timed * batch_size)

        _alternate(arms, rounds, measure, results, emit)
        models.clear()
        gc.collect()
        peak = round(matmul_peak(policy), 1)
    for result in results.values():
        result.peak_gflops = peak
    return list(results.values())


def compare_scoring(precision: str, arms: list[Arm], rounds: int, pairs: int, network: str = "attention",
                    image_size: int = 288, batch_size: int = 16, emit: Callable[[dict], None] = print
                    ) -> list[ArmResult]:
    """Each arm's folder-scoring pairs/s with full TTA and one model, alternating, ``rounds`` times."""
    from asna.core.precision import precision_scope
    from asna.evaluation import tta
    from asna.evaluation.folders import match_pairs, score_folder_pairs
    from asna.profiling.flops import forward_flops, matmul_peak, specified_model
    from asna.profiling.throughput import untrained_scorer, write_challenge_folder

    gflop = forward_flops(specified_model({"network": network, "image_size": image_size})) / 1e9
    gflop *= len(tta.variants("full"))
    with tempfile.TemporaryDirectory(prefix="asna_speed_comparison_") as folder:
        folder_pairs = match_pairs(*write_challenge_folder(folder, pairs, image_size))
        scorers = {}
        for arm in arms:
            with paths_off(arm.old_paths):
                from asna.evaluation.scorer import QualityScorer

                with precision_scope(precision, "inference") as policy:  # built per arm: the fold acts there
                    model = untrained_scorer(network, image_size, 1, batch_size).models[0]
                scorer = QualityScorer([model], [_info(network, image_size)], batch_size)
                score_folder_pairs(scorer, folder_pairs[:1], "full", "tile", None, progress=False)  # traces
                scorers[arm.label] = scorer
        results = {arm.label: ArmResult("folder scoring, full TTA", policy, arm.label, gflop_per_pair=gflop)
                   for arm in arms}

        def measure(arm: Arm) -> tuple[float, float]:
            with paths_off(arm.old_paths):  # the TTA paths are read while scoring
                start, cpu = time.perf_counter(), time.process_time()
                score_folder_pairs(scorers[arm.label], folder_pairs, "full", "tile", None, progress=False)
                return pairs / (time.perf_counter() - start), (time.process_time() - cpu) / pairs

        _alternate(arms, rounds, measure, results, emit)
        peak = round(matmul_peak(policy), 1)
    for result in results.values():
        result.peak_gflops = peak
    return list(results.values())


def _info(network: str, image_size: int):
    from asna.evaluation.scorer import ModelInfo
    from asna.profiling.throughput import PIPAL_SCALE

    return ModelInfo(Path("untrained.keras"), network, image_size, PIPAL_SCALE)


def format_table(results: list[ArmResult]) -> str:
    """A Markdown table of medians: pairs/s, against ``before`` and the original, GFLOP/s, % of peak."""
    lines = ["| what | precision | arm | pairs/s (median) | x before | x the original | CPU ms per pair "
             "| GFLOP/s | % of matmul peak |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    before = {(r.kind, r.precision): r.median for r in results if r.arm == "before"}
    for result in results:
        summary = result.summary()
        versus = result.median / before[(result.kind, result.precision)] if (result.kind, result.precision) in before else None
        original = "" if result.kind != "training" else \
            f"{result.median / ORIGINAL_PAIRS_PER_S[1]:.2f}-{result.median / ORIGINAL_PAIRS_PER_S[0]:.2f}"
        fraction = summary["fraction_of_peak"]
        lines.append(f"| {result.kind} | {result.precision} | {result.arm} | {result.median:.2f} | "
                     f"{'' if versus is None else f'{versus:.2f}'} | {original} | "
                     f"{summary['cpu_ms_per_pair_median']:.0f} | {summary['achieved_gflops']:.1f} | "
                     f"{'' if fraction is None else f'{100 * fraction:.1f}'} |")
    return "\n".join(lines)


def run_comparison(precisions: list[str], rounds: int, steps: int, pairs: int, network: str = "attention",
                   image_size: int = 288, batch_size: int = 16, candidates: bool = False,
                   kinds: Iterable[str] = ("training", "scoring"), emit: Callable[[dict], None] | None = None
                   ) -> list[ArmResult]:
    """Training, then folder scoring, in each precision; one JSON line per timed call through ``emit``."""
    emit = emit or (lambda record: print(json.dumps(record), flush=True))
    kinds = list(kinds)
    results: list[ArmResult] = []
    for precision in precisions:
        if "training" in kinds:
            results += compare_training(precision, arms_for(TRAINING_PATHS, candidates), rounds, steps, network,
                                        image_size, batch_size, emit)
        if "scoring" in kinds:
            results += compare_scoring(precision, arms_for(SCORING_PATHS), rounds, pairs, network, image_size,
                                       batch_size, emit)
        gc.collect()
    return results


def summary_records(results: list[ArmResult], started_load: tuple[float, float, float]) -> list[dict]:
    """The JSON summary lines: one per arm, with the load averages at the start and the end."""
    load = {"load_average_start": [round(v, 2) for v in started_load],
            "load_average_end": [round(v, 2) for v in os.getloadavg()]}
    return [{**result.summary(), **load} for result in results]

