"""Ship the built-in model: check a seed study against -GMSD and HaarPSI, copy the best-validation seed into models/.

`make model` runs the study (benchmarks/demo_seeds.py with configs/attention_built_in_gms.txt, three
seeds side by side) and then this script. It refuses, naming the sets, unless the mean SRCC over the seeds beats
-GMSD and HaarPSI on every built-in set the study reports (test, xtest, full) and, when the study
reports live_dev (people's ratings), the model shipped now on that folder; --force ships anyway and
says so on the model card. Writes models/asna_built_in.keras, its .json sidecar and models/README.md.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402

MAKE_MODEL = ("python benchmarks/demo_seeds.py --config configs/attention_built_in_gms.txt "
              "--data-dir data/synthetic_built_in_proc10 --train-crops-per-image 64 --procedural 10 --content-labels 1 "
              "--seeds 3 --jobs 3 --out runs/built_in_gms_proc_seeds")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="runs/built_in_gms_proc_seeds",
                        help="seed study folder (default runs/built_in_gms_proc_seeds, make model's)")
    parser.add_argument("--out", default="models", help="where the model and its card go (default models)")
    parser.add_argument("--command", default=MAKE_MODEL, help="the training command the card names")
    parser.add_argument("--live-dev", default=None, metavar="DIR",
                        help="the human-rated folder to score the shipped model on; 'none' skips it "
                             "(default: $ASNA_LIVE_DEV, else ../shared/real/live_dev when it is there)")
    parser.add_argument("--force", action="store_true", help="ship even when the check fails (the card says so)")
    arguments = parser.parse_args()
    from asna.studies.shipping import ship

    ship(Path(arguments.study), Path(arguments.out), arguments.command, arguments.force, arguments.live_dev)
    return 0


if __name__ == "__main__":
    run_cli(main)
