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

Example: python evaluation_dataset.py --data data/synthetic_val.h5 --json report.json --plot scatter.png \
    --type-plot types.png
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from asna.core.errors import UserError, run_cli  # noqa: E402
from asna.core.precision import use_inference_precision  # noqa: E402
from asna.evaluation import add_scorer_arguments  # noqa: E402
from asna.evaluation.per_type import NAMINGS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    add_scorer_arguments(parser)
    args = parser.parse_args()
    use_inference_precision(args.precision)
    folders = (args.ref_dir, args.dis_dir, args.labels)
    if (args.data is None) == (not any(folders)) or (args.data is None and not all(folders)):
        raise UserError("give either --data FILE.h5 or all of --ref-dir, --dis-dir and --labels")
    if args.data and args.type_names:
        raise UserError("--type-names is for folders; a --data file names its types by its source")
    from asna.evaluation.report import run_dataset

    run_dataset(args.data, args.ref_dir, args.dis_dir, args.labels, args.models, args.tta, args.fit,
                args.scale_source, args.batch_size, args.json, args.plot, args.csv, type_plot=args.type_plot,
                type_names=args.type_names, pool=args.pool)
    return 0


if __name__ == "__main__":
    run_cli(main)
