"""Evaluate the trained model(s) on a labelled set beside PSNR, SSIM, MS-SSIM, GMSD and HaarPSI.

Prints SRCC, PLCC, KRCC, RMSE and the main score (SRCC + PLCC) per method.
GMSD is a distortion (lower = better): its row, -gmsd, gives the figures of
-GMSD so that every method correlates positively with a MOS. A file that mixes
sources (e.g. pieapp and tid2013) also gets each source's figures. Then every
method's SRCC per distortion type (the type stored in the HDF5 file, or for
folders the name's <ref>_<type>_<level>, or a named type: L01_gblur_img7.png,
1600.AWGN.1.png), best of each row in brackets.
The set is a prepared HDF5 file (--data; compared with its raw mos) or a
challenge-style folder with a name,score label file. Model scores are mapped
back to the dataset's scale with their sidecar standardisation (for --data
files each pair's own source unless --scale-source is given). Classic metrics'
RMSE is after a linear fit to the true scores.

With --html, also writes one HTML page to open in a browser: the tables, the
plots, and the pairs the model gets most wrong, each with its quality map.

Example: python evaluation_dataset.py --data data/synthetic/synthetic_val.h5 --json report.json --plot scatter.png \
    --type-plot types.png --html report.html
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.api.console import add_labelled_set_arguments, evaluate_from  # noqa: E402
from asna.core.errors import run_cli  # noqa: E402
from asna.evaluation import CHALLENGE_TTA, add_scorer_arguments  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_labelled_set_arguments(parser)
    add_scorer_arguments(parser, tta=CHALLENGE_TTA)
    return evaluate_from(parser.parse_args())


if __name__ == "__main__":
    run_cli(main)
