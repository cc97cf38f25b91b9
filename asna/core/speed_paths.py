"""Switches for the faster code paths, so a benchmark can time each one against the code before it.

Every path here computes what the code before it computed: the same numbers
bit for bit, or (``half_batch_norm_inference``, ``half_batch_norm_training``) the
same float32 formula in another order, rounded once to the half type as before. They are all on; the
benchmarks (``--old-path NAME``, ``benchmarks/speed_comparison.py``) turn one
off in a fresh process to measure what it brings, and tests/test_speed.py
compares each with the code before it.

Set them before models are built or traced: a traced function keeps the path
it was traced with.

The XLA-fused paths are used on half-precision maps of at least
``FUSE_MIN_ELEMENTS`` values per image (a 288 px network's maps, not a 32 px
test network's): XLA compiles each fused pass once per batch shape, 1-2 s for
the attention network at 288 px on a 2-core CPU the first time a batch size
is seen, which pays only where the maps are large. float32 models run as before.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, fields, replace
from typing import Iterable, Iterator


@dataclass
class SpeedPaths:
    """Which faster paths are on (all by default)."""

    fused_difference: bool = True
    """``|f_ref - f_dis|`` and its gradient in bfloat16/float16 each as one XLA-fused pass (bit-identical)."""
    half_batch_norm_inference: bool = True
    """BatchNorm at inference in bfloat16/float16: one fused pass, no float32 copies of the maps."""
    half_batch_norm_training: bool = True
    """BatchNorm in training on bfloat16 maps of 16k channels on a CPU: oneDNN's kernel reads them
    directly (float32 statistics inside), no float32 copies around it."""
    folded_upsampling: bool = True
    """The last decoder step's 2x upsampling and concatenation folded into the stride-4 convolution
    after them: a stride-2 2x2 convolution of the half-resolution map plus one of D4 (the same sums
    regrouped; the upsampled map is never made). Acts when a model is built."""
    subpixel_upsampling: bool = True
    """Decoder steps 1-3's 2x upsampling and concatenation folded into the next step's 3x3 convolution:
    a 3x3 convolution of the half-resolution map with 4x the filters, one set per output phase, put in
    place by depth_to_space, plus one of the difference (the same sums regrouped). Acts when a model is built."""
    space_to_depth_stem: bool = True
    """The encoder's two full-resolution convolutions (3 and nfs[0] filters) on 2x2 blocks of pixels:
    a 3x3 convolution of 4x the channels with the same kernel rearranged, the same products (acts when
    a model of fixed, even size is built)."""
    plain_stem_scoring: bool = True
    """Scoring takes a model whose f1 is on 2x2 blocks with the plain convolutions instead (same
    weights, ``asna.models.blocks.with_plain_stem``): the blocks pay in training, while in a bfloat16
    forward pass the plain convolutions are faster."""
    shared_lab_tta: bool = True
    """TTA's 15 lightness variants from one RGB -> Lab conversion per image (bit-identical)."""
    prefetch_tta: bool = True
    """TTA: the next batch of variants is made while the network scores this one (same order)."""


PATHS = SpeedPaths()
FUSE_MIN_ELEMENTS = int(os.environ.get("ASNA_FUSE_MIN_ELEMENTS", "65536"))
"""Values per image from which a map takes the XLA-fused passes; ``ASNA_FUSE_MIN_ELEMENTS=0``
puts a small test network through them too (tests/test_speed.py, docs/tests.md)."""
NAMES = tuple(field.name for field in fields(SpeedPaths))
GRAPH_PATHS = ("folded_upsampling", "subpixel_upsampling", "space_to_depth_stem")
"""The paths that change the layers a model is built with (the others act inside layers' calls):
figures and FLOP counts use the network as specified, with these off."""


def check_names(names: Iterable[str]) -> list[str]:
    """``names`` as a list, each a known path; a ``ValueError`` naming the unknown ones."""
    names = list(names)
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise ValueError(f"unknown speed path(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")
    return names


def turn_off(names: Iterable[str]) -> None:
    """Use the code before these paths for the rest of the process."""
    for name in check_names(names):
        setattr(PATHS, name, False)


@contextlib.contextmanager
def paths_off(names: Iterable[str]) -> Iterator[None]:
    """The code before these paths for the block only (tests compare the two)."""
    before = replace(PATHS)
    turn_off(names)
    try:
        yield
    finally:
        for name in NAMES:
            setattr(PATHS, name, getattr(before, name))
