"""Score one distorted image against its reference with the trained model(s).

Prints "Image Quality Score: <score>" on the dataset's scale (the models'
standardised output mapped back with their sidecar .json). With --figure, also
saves both images side by side with the score (no figure by default).

Example: python evaluation_single_image.py --ref Ref/A0001.bmp --distorted Dis/A0001_10_03.bmp
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402
from asna.api.console import prepare  # noqa: E402
from asna.evaluation import CHALLENGE_TTA, add_scorer_arguments  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, metavar="IMAGE", help="reference image")
    parser.add_argument("--distorted", required=True, metavar="IMAGE", help="distorted image (same size)")
    parser.add_argument("--figure", metavar="PNG", help="also save a figure of both images with the score")
    add_scorer_arguments(parser, batch_size=False, tta=CHALLENGE_TTA)
    args = parser.parse_args()
    prepare(args)
    from asna.evaluation.single_pair import run_single_image

    run_single_image(args.ref, args.distorted, args.models, args.tta, args.fit, args.scale_source, args.figure,
                     args.pool)
    return 0


if __name__ == "__main__":
    run_cli(main)
