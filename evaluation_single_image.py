"""Score one distorted image against its reference with the trained model(s).

Prints "Image Quality Score: <score>" on the dataset's scale (the models'
standardised output mapped back with their sidecar .json). With --figure, also
saves both images side by side with the score (no figure by default). With
--map, also draws the quality map: where in the image the score was lost.

Example: python evaluation_single_image.py --ref Ref/A0001.bmp --distorted Dis/A0001_10_03.bmp
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.api.console import add_pair_outputs, score_pair_from  # noqa: E402
from asna.core.errors import run_cli  # noqa: E402
from asna.evaluation import CHALLENGE_TTA, add_scorer_arguments  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, metavar="IMAGE", help="reference image")
    parser.add_argument("--distorted", required=True, metavar="IMAGE", help="distorted image (same size)")
    add_pair_outputs(parser)
    add_scorer_arguments(parser, batch_size=False, tta=CHALLENGE_TTA)
    return score_pair_from(parser.parse_args())


if __name__ == "__main__":
    run_cli(main)
