"""Score every distorted image of an NTIRE-style folder: one line name,score each.

Each image in --dis-dir (A0001_10_03.bmp) is scored against its reference in
--ref-dir (A0001.bmp, any image extension, any case); lines are in the
challenge's order (sorted by name), scores on the dataset's scale. The output
is written under a temporary name and renamed when complete. Files without an
image extension (labels.txt, readme) are ignored.

Example: python evaluation_ntire.py --ref-dir NTIRE/Ref --dis-dir NTIRE/Dis --out output.txt
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
    parser.add_argument("--ref-dir", required=True, metavar="R", help="folder of reference images")
    parser.add_argument("--dis-dir", required=True, metavar="D", help="folder of distorted images")
    parser.add_argument("--out", default="output.txt", metavar="FILE", help="output file (default output.txt)")
    add_scorer_arguments(parser, tta=CHALLENGE_TTA)
    args = parser.parse_args()
    prepare(args)
    from asna.evaluation.folders import run_ntire

    run_ntire(args.ref_dir, args.dis_dir, args.out, args.models, args.tta, args.fit, args.scale_source,
              args.batch_size, args.pool)
    return 0


if __name__ == "__main__":
    run_cli(main)
