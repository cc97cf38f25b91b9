"""The main job: build the built-in set, train the attention network on it, evaluate it.

This is what `make demo` runs. It needs no download and runs on a CPU. The
network trains on the training photographs, keeps its best epoch on the
validation photographs and is scored on the test photographs (test file) and
on the same photographs distorted by a second implementation (xtest file),
beside the classic metrics, pooled and per distortion type. The results land
in --out: model.keras, metrics.json (test, with "xtest" inside, each with a
by_type block), scatter.png, predictions.csv, types.png (SRCC per type),
xtest_scatter.png, xtest_predictions.csv, xtest_types.png, report.html,
xtest_report.html and full_report.html (one page per set to open in a browser),
training_curves.png and a challenge-format folder of the test pairs with its scores.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402
from asna.studies.recipe import DemoRecipe, add_demo_arguments  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/demo", help="folder for the model, metrics and figures")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the built-in set (crops, distortions); the training seed is --set training.seed=K")
    add_demo_arguments(parser)
    arguments = parser.parse_args()
    from asna.studies.demo import run_demo

    run_demo(DemoRecipe.from_arguments(arguments), arguments.out, arguments.seed, arguments.overrides)
    return 0


if __name__ == "__main__":
    run_cli(main)
