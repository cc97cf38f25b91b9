"""The console commands an installed package puts on the PATH: ``asna-score``, ``asna-score-folder``, ``asna-evaluate``.

Each parses the options of its script in the checkout (``evaluation_single_image.py``,
``evaluation_ntire.py``, ``evaluation_dataset.py``; ``asna-score`` takes the
two images as ``REF DIS``) and calls the same package function, so output,
files and errors are the script's. Two defaults are their own: ``--tta`` is
``none``, as for ``asna.load_metric`` (the scripts keep the challenge's
``full``), and without ``--models`` they score with the shipped model, the
checkout's or the installed package's (``asna.api.default_models``), never a
``models/`` folder of the current directory.
"""

from __future__ import annotations

import argparse

from asna.core.errors import UserError, run_cli
from asna.core.quiet import quiet_tensorflow
from asna.evaluation import DEFAULT_HTML_PAIRS, add_scorer_arguments, positive_int
from asna.evaluation.per_type import NAMINGS


def _parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=f"{description}\n\nExample: {example}",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def prepare(args: argparse.Namespace) -> None:
    """The start of a scoring command or script: the inference precision, then the default models."""
    from asna.api.default_models import script_default_models
    from asna.core.precision import use_inference_precision

    use_inference_precision(args.precision)
    if args.models is None:
        args.models = script_default_models()


def add_pair_outputs(parser: argparse.ArgumentParser) -> None:
    """The optional pictures of one scored pair (``asna-score``, ``evaluation_single_image.py``)."""
    parser.add_argument("--figure", metavar="PNG", help="also save a figure of both images with the score")
    parser.add_argument("--map", metavar="OUT.png",
                        help="also draw the quality map: the distorted image with the local scores the score is "
                             "pooled from laid over it (worse = warmer), a colour bar on the score's scale and "
                             "the score in the title")


def add_labelled_set_arguments(parser: argparse.ArgumentParser) -> None:
    """The set and the reports of ``asna-evaluate`` and ``evaluation_dataset.py``."""
    parser.add_argument("--data", metavar="FILE.h5", help="prepared HDF5 file of labelled pairs")
    parser.add_argument("--ref-dir", metavar="R", help="folder of reference images (with --dis-dir, --labels)")
    parser.add_argument("--dis-dir", metavar="D", help="folder of distorted images")
    parser.add_argument("--labels", metavar="FILE", help="name,score label file of the distorted images")
    parser.add_argument("--type-names", choices=NAMINGS, default=None,
                        help="whose type ids a folder's names carry, to name the types in the report "
                             "(the built-in set's exports: kadid); --data files name theirs by their source")
    parser.add_argument("--json", metavar="OUT.json", help="write the metrics, one block per method "
                        "(undefined numbers as null; a by_source block when the file mixes sources, "
                        "a by_type block of each method's SRCC per distortion type)")
    parser.add_argument("--csv", metavar="OUT.csv", help="write one row per pair with every method's value")
    parser.add_argument("--plot", metavar="OUT.png", help="write a scatter plot per method")
    parser.add_argument("--type-plot", metavar="OUT.png",
                        help="write a bar plot of every method's SRCC per distortion type")
    parser.add_argument("--html", metavar="OUT.html",
                        help="write one self-contained HTML page (images embedded, opens with no network): the "
                             "metrics table beside every baseline, the scatter and per-type plots, and the pairs "
                             "where the model and the labels, and the model and the best baseline, disagree most, "
                             "each with reference, distorted image and quality map")
    parser.add_argument("--html-pairs", type=positive_int, default=DEFAULT_HTML_PAIRS, metavar="N",
                        help=f"pairs shown in each of the page's two lists (default {DEFAULT_HTML_PAIRS}); "
                             f"only these are scored again, for their maps")


def single_image_parser() -> argparse.ArgumentParser:
    parser = _parser("asna-score", "Score one distorted image against its reference with the trained model(s).\n"
                     "Prints \"Image Quality Score: <score>\" on the dataset's scale (higher is better), "
                     "as evaluation_single_image.py does.", "asna-score Ref/A0001.bmp Dis/A0001_10_03.bmp")
    parser.add_argument("ref", metavar="REF", help="reference image")
    parser.add_argument("distorted", metavar="DIS", help="distorted image (same size)")
    add_pair_outputs(parser)
    add_scorer_arguments(parser, batch_size=False)
    return parser


def folder_parser() -> argparse.ArgumentParser:
    parser = _parser("asna-score-folder", "Score every distorted image of an NTIRE-style folder: one line "
                     "name,score each, sorted by name, as evaluation_ntire.py does.",
                     "asna-score-folder --ref-dir NTIRE/Ref --dis-dir NTIRE/Dis --out output.txt")
    parser.add_argument("--ref-dir", required=True, metavar="R", help="folder of reference images")
    parser.add_argument("--dis-dir", required=True, metavar="D", help="folder of distorted images")
    parser.add_argument("--out", default="output.txt", metavar="FILE", help="output file (default output.txt)")
    add_scorer_arguments(parser)
    return parser


def dataset_parser() -> argparse.ArgumentParser:
    parser = _parser("asna-evaluate", "Evaluate the trained model(s) on a labelled set beside PSNR, SSIM, "
                     "MS-SSIM, GMSD and HaarPSI, overall and per distortion type, as evaluation_dataset.py does.",
                     "asna-evaluate --data data/synthetic/synthetic_val.h5 --json report.json --plot scatter.png "
                     "--type-plot types.png")
    add_labelled_set_arguments(parser)
    add_scorer_arguments(parser)
    return parser


def _single_image() -> int:
    return score_pair_from(single_image_parser().parse_args())


def score_pair_from(args: argparse.Namespace) -> int:
    """Score the pair that parsed arguments name (``asna-score``, ``evaluation_single_image.py``)."""
    prepare(args)
    from asna.evaluation.single_pair import run_single_image

    run_single_image(args.ref, args.distorted, args.models, args.tta, args.fit, args.scale_source, args.figure,
                     args.pool, args.map)
    return 0


def _folder() -> int:
    args = folder_parser().parse_args()
    prepare(args)
    from asna.evaluation.folders import run_ntire

    run_ntire(args.ref_dir, args.dis_dir, args.out, args.models, args.tta, args.fit, args.scale_source,
              args.batch_size, args.pool)
    return 0


def _dataset() -> int:
    return evaluate_from(dataset_parser().parse_args())


def evaluate_from(args: argparse.Namespace) -> int:
    """Evaluate on the labelled set that parsed arguments name (``asna-evaluate``, ``evaluation_dataset.py``)."""
    prepare(args)
    folders = (args.ref_dir, args.dis_dir, args.labels)
    if (args.data is None) == (not any(folders)) or (args.data is None and not all(folders)):
        raise UserError("give either --data FILE.h5 or all of --ref-dir, --dis-dir and --labels")
    if args.data and args.type_names:
        raise UserError("--type-names is for folders; a --data file names its types by its source")
    from asna.evaluation.report import run_dataset

    run_dataset(args.data, args.ref_dir, args.dis_dir, args.labels, args.models, args.tta, args.fit,
                args.scale_source, args.batch_size, args.json, args.plot, args.csv, type_plot=args.type_plot,
                type_names=args.type_names, pool=args.pool, html_path=args.html, html_pairs=args.html_pairs)
    return 0


def score_pair() -> None:
    """``asna-score REF DIS``: evaluation_single_image.py."""
    quiet_tensorflow()
    run_cli(_single_image)


def score_folder() -> None:
    """``asna-score-folder``: evaluation_ntire.py."""
    quiet_tensorflow()
    run_cli(_folder)


def evaluate() -> None:
    """``asna-evaluate``: evaluation_dataset.py."""
    quiet_tensorflow()
    run_cli(_dataset)
