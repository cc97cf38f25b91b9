"""Where a training step's time goes: TensorFlow's profiler trace, summed by op type, stage and layer.

``tf.profiler.experimental`` writes an XSpace trace; on a CPU each op that ran
is an event named ``<graph path>:<op type>`` on one of TensorFlow's inter-op
threads. Summing the events' durations by op type (``Conv2DBackpropFilter``,
``Cast``, ``LeakyRelu``...), by the layer named in the path (``encoder/f1_bn``,
``dec4_concat``...) and by stage (``encoder f1``, ``dec4``: a layer's forward ops and
gradient together) shows which work a step spends its time on, as shares of the
op time of the profiled steps. Durations are wall time of each op on its thread
(an op split over intra-op threads counts once), so the shares, not the sums,
are the figures to read. A GPU's kernels are on other planes and not summed here.
"""

from __future__ import annotations

import collections
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

_LAYER = re.compile(r"asna_[a-z]+(?:_\d+)?/(?:(encoder)(?:_\d+)?/)?([^/]+)/")


def layer_of(path: str) -> str:
    """``.../asna_attention_1/encoder_3/f1_bn_1/Cast_4`` -> ``encoder/f1_bn``; ``other`` when no layer is named.

    Keras adds ``_<n>`` to a layer's name in the graph; it is dropped.
    """
    match = _LAYER.search(path)
    if not match:
        return "other"
    layer = re.sub(r"_\d+$", "", match.group(2))
    return f"encoder/{layer}" if match.group(1) else layer


def stage_of(layer: str) -> str:
    """``encoder/f1_conv_rgb`` -> ``encoder f1``; ``dec4_concat`` -> ``dec4``: forward and gradient together."""
    if layer.startswith("encoder/"):
        return "encoder " + layer.split("/", 1)[1].split("_")[0]
    return layer.split("_")[0]


def summarize_trace(folder: str | Path, top: int = 12) -> dict[str, Any]:
    """Shares of op time by op type and by layer in the XSpace trace under ``folder``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    traces = sorted(Path(folder).rglob("*.xplane.pb"))
    if not traces:
        raise RuntimeError(f"{folder}: the profiler wrote no trace")
    space = xplane_pb2.XSpace()
    space.ParseFromString(traces[-1].read_bytes())
    by_type: collections.Counter = collections.Counter()
    by_layer: collections.Counter = collections.Counter()
    by_stage: collections.Counter = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or "::" in name:  # the executor's own events, which contain the ops
                    continue
                path, op_type = name.rsplit(":", 1)
                seconds = event.duration_ps / 1e12
                layer = layer_of(path)
                by_type[op_type] += seconds
                by_layer[("gradient of " if "gradient_tape" in path else "") + layer] += seconds
                by_stage[stage_of(layer)] += seconds
    total = sum(by_type.values())
    if total == 0:
        raise RuntimeError(f"{folder}: no TensorFlow ops on the CPU in the trace")

    def shares(counter: collections.Counter) -> list[tuple[str, float]]:
        return [(name, round(seconds / total, 4)) for name, seconds in counter.most_common(top)]

    return {"op_seconds": total, "by_op_type": shares(by_type), "by_stage": shares(by_stage),
            "by_layer": shares(by_layer)}


def profile_ops(run: Callable[[], None], top: int = 12) -> dict[str, Any]:
    """Run ``run`` (a few training steps) under TensorFlow's profiler and summarize its ops."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="asna_op_profile_") as folder:
        tf.profiler.experimental.start(folder)
        try:
            run()
        finally:
            tf.profiler.experimental.stop()
        return summarize_trace(folder, top)


def format_profile(profile: dict[str, Any]) -> str:
    """Three short lines: the top op types, stages and layers, as % of op time."""
    lines = [f"op time of the profiled steps: {profile['op_seconds']:.2f} s (summed over threads)"]
    for title, key in (("by op type", "by_op_type"), ("by stage (forward and gradient)", "by_stage"),
                       ("by layer", "by_layer")):
        lines.append(f"  {title}: " + ", ".join(f"{name} {100 * share:.1f} %" for name, share in profile[key]))
    return "\n".join(lines)
