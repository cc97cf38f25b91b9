"""Block diagrams of the built networks, drawn with matplotlib from the Keras graph.

``keras.utils.plot_model`` needs pydot and graphviz; this draws a U-shaped
block diagram instead: the shared encoder's stages along the top, the
difference maps under them, the decoder back along the middle row and the
tail (down-sampling, attention, residual blocks, head) along the bottom.
Stages are read from the layer names (``<stage>_<part>``), the wiring (which
image's features start the decoder, which difference joins which decoder
step) from the model's own config, and shapes from the layers' outputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

COLOURS = {
    "Conv2D": "#8fd18f", "ConvLSTM2D": "#f4d35e", "LeakyReLU": "#ffe8a3",
    "FusedBatchNormalization": "#f7c6a3", "BatchNormalization": "#f7c6a3",
    "MaxPooling2D": "#f29e4c", "GlobalAveragePooling2D": "#f6bd84",
    "UpSampling2D": "#9cc3e6", "Concatenate": "#cfcfcf", "Dense": "#e0b84c",
    "Dropout": "#ececec", "Flatten": "#ececec", "Multiply": "#c9b3e6", "Add": "#c9b3e6",
    "ScaleToUnitRange": "#f5b7c5", "TileImage": "#f5b7c5", "AbsoluteDifference": "#f5b7c5",
    "InputLayer": "#ffffff",
}
STAGE_TITLES = {"scale": "scale to [-1, 1]", "tile": "tile (row-major)", "lstm": "ConvLSTM, last state",
                "down": "down-sample", "att": "attention block", "head": "head",
                "classic": "GMSD's map, per 8 x 8 cell"}
BAR_HEIGHT, BAR_GAP, COLUMN_WIDTH, BOX_WIDTH = 0.34, 0.06, 2.4, 2.05


@dataclass
class Stage:
    """One box of the figure: consecutive layers sharing a name prefix."""

    name: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (text, class name)
    shape: str = ""
    x: float = 0.0
    y: float = 0.0  # top edge

    @property
    def height(self) -> float:
        return 0.75 + len(self.lines) * (BAR_HEIGHT + BAR_GAP)


def build_for_drawing(model_config: Any) -> keras.Model:
    """The network as its spec draws it: the paths that change the built graph off
    (speed_paths.GRAPH_PATHS), so the decoder's last upsampling and concatenation are layers
    of their own and the first stage convolves pixels, not 2x2 blocks."""
    from asna.core.speed_paths import GRAPH_PATHS, paths_off
    from asna.models import build_model

    with paths_off(GRAPH_PATHS):
        return build_model(model_config)


def stage_of(layer_name: str) -> str:
    """``f2_conv`` -> ``f2``; ``score`` joins the head; ``diff3`` stays ``diff3``."""
    if layer_name == "score":
        return "head"
    return layer_name.split("_")[0]


def _shape_text(layer: keras.layers.Layer) -> str:
    shape = tuple(layer.output.shape[1:])
    return "x".join(str(dim) for dim in shape)


def describe(layer: keras.layers.Layer) -> str:
    """A short label for one layer: its kind and the numbers that define it."""
    kind = type(layer).__name__
    config = layer.get_config()
    if kind in ("Conv2D", "ConvLSTM2D"):
        text = f"{'Conv' if kind == 'Conv2D' else 'ConvLSTM'} {config['filters']}, " \
               f"{config['kernel_size'][0]}x{config['kernel_size'][1]}"
        if config["strides"][0] != 1:
            text += f", stride {config['strides'][0]}"
        if kind == "ConvLSTM2D":
            return text
        activation = config.get("activation")
        return text + (f", {activation}" if activation not in (None, "linear") else "")
    if kind == "Dense":
        activation = config["activation"]
        return f"Dense {config['units']}" + (f", {activation}" if activation != "linear" else "")
    simple = {"LeakyReLU": f"LeakyReLU {config.get('negative_slope', '')}",
              "FusedBatchNormalization": "BatchNorm", "BatchNormalization": "BatchNorm",
              "MaxPooling2D": "MaxPool 2x2", "UpSampling2D": "UpSample 2x2",
              "GlobalAveragePooling2D": "GlobalAvgPool", "Dropout": f"Dropout {config.get('rate')}",
              "ScaleToUnitRange": "(x - 127.5) / 127.5", "AbsoluteDifference": "|a - b|",
              "TileImage": f"tiles {config.get('tile_size')}x{config.get('tile_size')}"}
    return simple.get(kind, kind)


def _history(argument: Any) -> list[tuple[str, int, int]]:
    """Every ``keras_history`` (layer, node, tensor) inside a serialised call argument."""
    found: list[tuple[str, int, int]] = []
    if isinstance(argument, dict):
        if "keras_history" in argument.get("config", {}):
            found.append(tuple(argument["config"]["keras_history"]))
        for value in argument.values():
            found.extend(_history(value))
    elif isinstance(argument, (list, tuple)):
        for value in argument:
            found.extend(_history(value))
    return found


def parents(model: keras.Model) -> dict[str, list[tuple[str, int, int]]]:
    """For each top-level layer, the (layer, call, output) tensors it reads."""
    return {entry["name"]: _history(entry["inbound_nodes"])
            for entry in model.get_config()["layers"]}


def _branch(layer_name: str) -> tuple[int, str]:
    """Sort key and label that keep the attention block's branches together."""
    for rank, branch in enumerate(("channel", "spatial"), start=1):
        if f"_{branch}_" in layer_name:
            return rank, f"{branch[:2]}. "
    if layer_name.startswith("att_") and layer_name.endswith(("_concat", "_out")):
        return 3, ""
    return 0, ""


def _stages(layer_list: list[keras.layers.Layer], skip: tuple[str, ...] = ()) -> dict[str, Stage]:
    """Group layers into stages, merging the reference/distorted twins of a layer."""
    stages: dict[str, Stage] = {}
    layer_list = sorted(layer_list, key=lambda layer: _branch(layer.name)[0])
    for layer in layer_list:
        kind = type(layer).__name__
        if kind in ("InputLayer", "Functional") or layer.name.startswith(skip):
            continue
        stage = stages.setdefault(stage_of(layer.name), Stage(stage_of(layer.name)))
        line = (_branch(layer.name)[1] + describe(layer), kind)
        if line not in stage.lines or not layer.name.endswith(("_reference", "_distorted")):
            stage.lines.append(line)
        if not _branch(layer.name)[1]:
            stage.shape = _shape_text(layer)
    return stages


@dataclass
class Layout:
    """Every stage box and the wiring the figure needs."""

    encoder: list[Stage]
    prelude: list[Stage]
    decoder: list[Stage]
    tail: list[Stage]
    diffs: dict[str, str]  # diff stage -> encoder stage it is under
    diff_shapes: dict[str, str]
    start_image: str
    start_stage: str


def collect(model: keras.Model) -> Layout:
    """Read stages and wiring from the built model."""
    encoder = model.get_layer("encoder")
    encoder_stages = list(_stages(encoder.layers).values())
    outputs = [name for name, _, _ in encoder.get_config()["output_layers"]]
    top = _stages(model.layers, skip=("diff",))
    wiring = parents(model)
    diffs = {name: stage_of(outputs[wiring[name][0][2]])
             for name in wiring if name.startswith("diff")}
    diff_shapes = {name: _shape_text(model.get_layer(name)) for name in diffs}
    start_layer = next(name for name in wiring if name.startswith("dec1_"))
    _, call, tensor = next(item for item in wiring[start_layer] if item[0] == "encoder")
    start_image = model.inputs[call].name
    prelude = [top.pop(name) for name in ("scale", "tile") if name in top]
    decoder = [top.pop(name) for name in sorted(n for n in top if re.fullmatch(r"dec\d+", n))]
    for stage in decoder:
        if f"{stage.name}_concat" not in wiring:
            raise ValueError(f"{model.name}: {stage.name} has no concatenation layer to draw; "
                             "build the model with build_for_drawing")
        joined = [name for name, _, _ in wiring[f"{stage.name}_concat"] if name.startswith("diff")]
        stage.lines[-1] = (f"Concatenate with D{joined[0][4:]}", "Concatenate")
    if "att" in top:
        top["att"].lines = [(text.replace("Concatenate", "Concat input, ch., sp."), kind)
                            for text, kind in top["att"].lines]
    return Layout(encoder_stages, prelude, decoder, list(top.values()), diffs, diff_shapes,
                  start_image, stage_of(outputs[tensor]))


def _title(stage: Stage) -> str:
    name = stage.name
    if re.fullmatch(r"f\d", name):
        return f"encoder {name}"
    if re.fullmatch(r"dec\d", name):
        return f"decoder step {name[3:]}"
    if re.fullmatch(r"down\d", name):
        return f"down-sample {name[4:]}"
    if re.fullmatch(r"res\d+", name):
        return f"residual block {name[3:]}"
    return STAGE_TITLES.get(name, name)


def _draw_stage(axes: Any, stage: Stage) -> None:
    from matplotlib.patches import FancyBboxPatch

    left = stage.x - BOX_WIDTH / 2
    axes.add_patch(FancyBboxPatch((left, stage.y - stage.height), BOX_WIDTH, stage.height,
                                  boxstyle="round,pad=0.02,rounding_size=0.12",
                                  facecolor="#fbfbfb", edgecolor="#555555", linewidth=1.0))
    axes.text(stage.x, stage.y - 0.2, _title(stage), ha="center", va="center",
              fontsize=8.5, fontweight="bold")
    top = stage.y - 0.42
    for index, (text, kind) in enumerate(stage.lines):
        bar_top = top - index * (BAR_HEIGHT + BAR_GAP)
        axes.add_patch(FancyBboxPatch((left + 0.1, bar_top - BAR_HEIGHT), BOX_WIDTH - 0.2,
                                      BAR_HEIGHT, boxstyle="round,pad=0,rounding_size=0.05",
                                      facecolor=COLOURS.get(kind, "#dddddd"),
                                      edgecolor="#777777", linewidth=0.6))
        axes.text(stage.x, bar_top - BAR_HEIGHT / 2, text, ha="center", va="center", fontsize=7)
    axes.text(stage.x, stage.y - stage.height + 0.13, stage.shape, ha="center", va="center",
              fontsize=7, color="#333333", style="italic")


def _arrow(axes: Any, start: tuple[float, float], end: tuple[float, float],
           label: str = "", colour: str = "#3465a4") -> None:
    axes.annotate("", xy=end, xytext=start,
                  arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.3,
                              "shrinkA": 0, "shrinkB": 0})
    if label:
        axes.text((start[0] + end[0]) / 2 + 0.06, (start[1] + end[1]) / 2, label, fontsize=7,
                  color=colour, ha="left", va="center")


def _place(layout: Layout) -> tuple[float, float, float]:
    """Set every box's position; returns (width, height, diff row y)."""
    columns = ["inputs"] + [s.name for s in layout.prelude] + [s.name for s in layout.encoder]
    column_x = {name: (index + 0.5) * COLUMN_WIDTH for index, name in enumerate(columns)}
    row_one = max(s.height for s in layout.prelude + layout.encoder)
    for stage in layout.prelude + layout.encoder:
        stage.x, stage.y = column_x[stage.name], 0.0
    diff_y = -row_one - 0.7
    concat_of = {f"dec{name[4:]}": under for name, under in layout.diffs.items()}
    row_two_top = diff_y - 0.9
    for stage in layout.decoder:
        stage.x, stage.y = column_x[concat_of[stage.name]], row_two_top
    row_two = max(s.height for s in layout.decoder)
    first_x = min(s.x for s in layout.decoder)
    for index, stage in enumerate(layout.tail):
        stage.x, stage.y = first_x + index * COLUMN_WIDTH, row_two_top - row_two - 0.8
    bottom = min(s.y - s.height for s in layout.tail)
    width = max(len(columns), len(layout.tail) + columns.index(layout.encoder[0].name))
    return width * COLUMN_WIDTH, -bottom, diff_y


def _draw_inputs(axes: Any, model: keras.Model, x: float, target: Stage) -> None:
    for index, tensor in enumerate(model.inputs):
        y = -0.45 - index * 1.1
        _arrow(axes, (x + 0.5, y), (target.x - BOX_WIDTH / 2, -0.6 - 0.15 * index))
        axes.text(x, y, f"{tensor.name}\n{'x'.join(map(str, tensor.shape[1:]))} uint8",
                  ha="center", va="center", fontsize=8,
                  bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#555555"})


def _draw_wiring(axes: Any, layout: Layout, diff_y: float) -> None:
    """Flow arrows, the difference circles and the decoder's start."""
    flow = layout.prelude + layout.encoder
    for left, right in zip(flow[:-1], flow[1:]):
        _arrow(axes, (left.x + BOX_WIDTH / 2, -0.6), (right.x - BOX_WIDTH / 2, -0.6))
    encoder_x = {s.name: s for s in layout.encoder}
    for diff, under in sorted(layout.diffs.items()):
        stage = encoder_x[under]
        axes.text(stage.x, diff_y, f"D{diff[4:]} = |{under}(ref) - {under}(dist)|\n"
                  f"{layout.diff_shapes[diff]}", ha="center", va="center", fontsize=7,
                  bbox={"boxstyle": "round", "facecolor": COLOURS["AbsoluteDifference"],
                        "edgecolor": "#a0405a"})
        _arrow(axes, (stage.x, stage.y - stage.height), (stage.x, diff_y + 0.3), colour="#a0405a")
        step = next(s for s in layout.decoder if s.name == f"dec{diff[4:]}")
        _arrow(axes, (stage.x, diff_y - 0.3), (step.x, step.y), colour="#a0405a")
    start = encoder_x[layout.start_stage]
    _arrow(axes, (start.x + BOX_WIDTH / 2, -1.0), (start.x + BOX_WIDTH / 2 + 0.12,
                                                   layout.decoder[0].y - 0.5),
           label=f"{layout.start_stage} of the\n{layout.start_image}\nimage", colour="#2e7d32")
    ordered = layout.decoder
    for right, left in zip(ordered[:-1], ordered[1:]):
        _arrow(axes, (right.x - BOX_WIDTH / 2, right.y - 0.6), (left.x + BOX_WIDTH / 2, left.y - 0.6))
    last = ordered[-1]
    _arrow(axes, (last.x, last.y - last.height), (layout.tail[0].x, layout.tail[0].y))
    for left, right in zip(layout.tail[:-1], layout.tail[1:]):
        _arrow(axes, (left.x + BOX_WIDTH / 2, left.y - 0.6), (right.x - BOX_WIDTH / 2, right.y - 0.6))


def draw(model: keras.Model, path: str | Path, title: str = "") -> Path:
    """Draw ``model`` into a PNG at ``path`` (parents created) and return the path."""
    import matplotlib.pyplot as plt

    from asna.core.plots import save_figure  # switches matplotlib to the Agg backend

    layout = collect(model)
    width, height, diff_y = _place(layout)
    figure, axes = plt.subplots(figsize=(width * 0.95, (height + 1.2) * 0.95))
    axes.set_xlim(0, width)
    axes.set_ylim(-height - 0.2, 1.0)
    axes.axis("off")
    encoder_left = layout.encoder[0].x - BOX_WIDTH / 2 - 0.1
    encoder_height = max(s.height for s in layout.encoder) + 0.15
    axes.add_patch(plt.Rectangle((encoder_left, -encoder_height), layout.encoder[-1].x
                                 + BOX_WIDTH / 2 + 0.1 - encoder_left, encoder_height + 0.45,
                                 fill=False, linestyle="--", edgecolor="#3465a4"))
    axes.text(encoder_left + 0.05, 0.3, "shared encoder: one set of weights, applied to the "
              "reference and to the distorted image", fontsize=8, color="#3465a4", va="center")
    _draw_inputs(axes, model, 0.5 * COLUMN_WIDTH, layout.prelude[0])
    for stage in layout.prelude + layout.encoder + layout.decoder + layout.tail:
        _draw_stage(axes, stage)
    _draw_wiring(axes, layout, diff_y)
    parameters = f"{model.count_params():,} parameters"
    axes.set_title(f"{title or model.name}  ({parameters})", fontsize=11, loc="left")
    return save_figure(figure, path, dpi=110)
