"""Prepare the PIPAL training release, as downloaded, into pipal_train.h5 and pipal_val.h5.

Streams the pairs (the original needed 16 GB of RAM; this stays well under
1.5 GB whatever the dataset's size), splits them by reference image and can add
copies with the lightness of both images scaled by one random factor.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import UserError, run_cli  # noqa: E402
from asna.data import pipal, preparation  # noqa: E402

STANDARDIZATION = {"pipal": pipal.PIPAL_STANDARDIZATION}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Prepare the PIPAL training set (as it comes) into OUT/pipal_train.h5 and "
                    "OUT/pipal_val.h5.",
        epilog="DIR must hold Train_Ref/ and Train_Label/ (lines 'A0001_00_00.bmp,1520.0648'); the "
               "distorted images are found in any folder below DIR (Train_Dis/, training_inp/, "
               "Distortion_1..4/). Images must be --image-size square (288 in the release). "
               f"Standardisation (mos - mean) / std with {pipal.PIPAL_STANDARDIZATION}. Bad input "
               "stops with one line and exit code 2 unless --skip-bad.")
    parser.add_argument("--pipal", metavar="DIR", required=True,
                        help="PIPAL training folder (holds Train_Ref/, Train_Label/ and the distorted images)")
    preparation.add_output_arguments(parser)
    parser.add_argument("--intensity-copies", type=int, default=0, metavar="N",
                        help="add N copies of every pair with the Lab lightness of both images scaled "
                             "by the same factor drawn from U(0.3, 1.5), seeded by --seed and the "
                             "pair's name (default: %(default)s)")
    return parser


def check(args: argparse.Namespace) -> None:
    if args.intensity_copies < 0:
        raise UserError(f"--intensity-copies: must be 0 or more, got {args.intensity_copies}")


def collect(args: argparse.Namespace, problems: preparation.Problems) -> list[preparation.SourcePairs]:
    return [pipal.collect_pairs(args.pipal, args.image_size, problems)]


def main() -> int:
    args = build_parser().parse_args()
    return preparation.run(args, STANDARDIZATION, collect, "pipal", check=check,
                           extra_copies=preparation.intensity_copies(args.intensity_copies, args.seed))


if __name__ == "__main__":
    run_cli(main)
