"""SRCC and PLCC of every tile pooling on one labelled folder, from one tile pass.

The folder holds Ref/, Dis/ and labels.txt (name,score lines), full-resolution
photographs: the model scores it once with --fit tile, keeps every tile's
standardised score and its reference tile's structure, and pools them with each
method (mean, worst, structure; asna/evaluation/pooling.py). A free-size model
(head = pooled) also gets the whole image in one piece (a second pass) unless
--no-whole; --classic adds -GMSD and HaarPSI of the same pairs. DEFAULT_POOL
(asna/evaluation/__init__.py) is chosen by this benchmark on the validation
folder. The last line is one JSON object.

Example: python benchmarks/tile_pooling.py --model runs/demo/model.keras --folder data/synthetic/full_val --json pooling.json
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402
from asna.core.precision import PRECISIONS, use_inference_precision  # noqa: E402
from asna.evaluation import DEFAULT_BATCH_SIZE, TTA_MODES, positive_int  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, metavar="M.keras", help="model file (with its .json sidecar)")
    parser.add_argument("--folder", required=True, metavar="DIR", help="labelled folder: Ref/, Dis/, labels.txt")
    parser.add_argument("--tta", choices=TTA_MODES, default="none", help="test-time augmentation (default none)")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, metavar="N",
                        help=f"image pairs per model call (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32", help="inference dtype policy")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-image pass of a free-size model")
    parser.add_argument("--classic", action="store_true", help="also -GMSD and HaarPSI of the same pairs")
    parser.add_argument("--json", metavar="OUT.json", help="also write the figures to this file")
    args = parser.parse_args()
    use_inference_precision(args.precision)
    from asna.studies.tile_pooling import run

    run(args.model, args.folder, args.tta, args.batch_size, not args.no_whole, args.classic, args.json)
    return 0


if __name__ == "__main__":
    run_cli(main)
