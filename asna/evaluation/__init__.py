"""Scoring image pairs with trained models: one pair, a challenge folder, a labelled set.

Modules (none imports TensorFlow at import time, so bad input is refused in a
second, before the models load):

* ``scorer``  — :class:`QualityScorer`: loads ``.keras`` models and their sidecar
  ``.json`` once, fits images to the input size, runs test-time augmentation,
  averages an ensemble and maps scores back to the dataset's scale;
* ``tta``     — the test-time augmentation variants (``full``, ``flips``, ``none``);
* ``pooling`` — tile scores -> image score (``mean``, ``worst``, ``structure``) for ``--fit tile``;
* ``classic`` — PSNR, SSIM, MS-SSIM, GMSD and HaarPSI per pair, the baselines of the report;
* ``similarity`` — GMSD and HaarPSI written from their papers;
* ``single_pair`` — one pair of image files, what ``evaluation_single_image.py`` runs;
* ``folders`` — challenge-style folders (``Ref/A0001.bmp``, ``Dis/A0001_TT_LL.bmp``) and label files;
* ``report``  — metrics per method, the table, JSON, CSV and scatter plot;
* ``per_type`` — each method's SRCC per distortion type: its table, JSON block and bar plot;
* ``per_reference`` — each method's SRCC within every reference and its offset, from a predictions CSV;
* ``quality_map`` — a pair's local scores at the image's size (what its score is pooled from);
* ``map_figure`` — a quality map drawn over the distorted image, worse = warmer;
* ``html_report`` — the labelled-set report as one self-contained HTML page.

This module holds only what the three ``evaluation_*.py`` scripts share on the
command line.
"""

from __future__ import annotations

import argparse

from asna.core.precision import PRECISIONS

TTA_MODES = ("full", "flips", "none")
DEFAULT_TTA = "none"
"""The one default of the API and the console commands: the shipped model's figures are all without
TTA (models/README.md), a pair costs 1/22 of ``full``, and scripts and library give the same score."""
CHALLENGE_TTA = "full"
"""The original's 22 variants: the default of the original's evaluation_*.py scripts only."""
FIT_MODES = ("auto", "whole", "tile", "center")
DEFAULT_FIT = "tile"
"""Tiles of the size the network trained on, for every network: on the full-resolution validation
folder they beat the whole image for the shipped recipe's pooled head (docs/evaluation.md#tile-pooling)."""
POOL_METHODS = ("mean", "worst", "structure")
DEFAULT_POOL = "worst"
"""Chosen on the full-resolution validation folder by ``benchmarks/tile_pooling.py`` (the best of the three
for a flatten and a pooled head)."""
DEFAULT_MODELS = "models"
DEFAULT_BATCH_SIZE = 16
DEFAULT_HTML_PAIRS = 8
"""Pairs in each list of the HTML report (model against labels, model against the best baseline)."""
WHOLE_MULTIPLE = 16
"""A free-size network takes sides that are multiples of this (four halvings)."""

FIT_HELP = ("how an image that is not the models' input size is fed to them, never resized: "
            "'tile' (default) cuts it into input-sized tiles that cover the whole image "
            "(evenly spaced, overlapping where the side is not a multiple of the input size) "
            "and pools their scores (--pool); 'whole' feeds the image in one piece, its central crop "
            f"to the largest multiple of {WHOLE_MULTIPLE} per side (free-size models only: head = pooled); "
            "'auto' is 'whole' for free-size models and 'tile' for the others; "
            "'center' scores the central crop only. An image smaller "
            "than the input size is an error. An ensemble mixing free-size and fixed-size models "
            "needs --fit tile or center.")

POOL_HELP = ("how --fit tile combines its tiles' scores into the image's: 'mean' the plain mean; "
             "'worst' the mean of the lower half of the tiles (quality is decided where it is worst); "
             "'structure' a mean weighted by each reference tile's gradient magnitude, flat tiles "
             f"counting a little (default: {DEFAULT_POOL}). Meaningless for --fit whole and center, "
             "which score one piece")


def positive_int(text: str) -> int:
    """argparse type for counts: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def add_scorer_arguments(parser: argparse.ArgumentParser, batch_size: bool = True,
                         tta: str = DEFAULT_TTA) -> None:
    """``--models``, ``--tta``, ``--fit``, ``--pool``, ``--scale-source`` (and ``--batch-size``) for a script.

    ``tta`` is the ``--tta`` default: :data:`DEFAULT_TTA` for the console commands,
    :data:`CHALLENGE_TTA` for the original's scripts.
    """
    parser.add_argument("--models", nargs="+", metavar="PATH", default=None,
                        help="model files (.keras) or folders of them; several models form an ensemble "
                             "(mean score). Default: the model shipped in the checkout's models/ (or its copy in the "
                             "installed package); a models/ folder of the current directory is read only when named")
    parser.add_argument("--tta", choices=TTA_MODES, default=tta,
                        help="test-time augmentation: 'full' = the original's 22 variants (4 rotations, "
                             "vertical, horizontal and both flips, Lab lightness x0.1..x1.5), 22 times the "
                             "cost of 'none'; 'flips' = identity, vertical, horizontal and both flips (4); "
                             f"'none' = the pair as it is, as asna.load_metric (default: {tta})")
    parser.add_argument("--fit", choices=FIT_MODES, default=DEFAULT_FIT, help=FIT_HELP)
    parser.add_argument("--pool", choices=POOL_METHODS, default=DEFAULT_POOL, help=POOL_HELP)
    parser.add_argument("--scale-source", metavar="NAME", default=None,
                        help="which source of a model's standardisation maps its output back to a score "
                             "scale; needed only when the model's sidecar .json has several (e.g. "
                             "pieapp and tid2013); HDF5 --data files default to each pair's own source")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="dtype policy the models compute in: mixed_bfloat16 is faster on CPUs with "
                             "AVX-512 BF16 or AMX, mixed_float16 on GPUs; auto picks as training does "
                             "(default float32, the exact scores)")
    if batch_size:
        parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, metavar="N",
                            help=f"image pairs per model call (default {DEFAULT_BATCH_SIZE})")
