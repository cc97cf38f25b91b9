"""Train the surrogate ranker: L scores in, their L ranks out.

Defaults are the original recipe (original architecture, 2,000,000 vectors,
100 epochs, batch 1024, Adam 1e-3 dropped x0.1 every 30 epochs).
docs/loss-and-rankers.md gives the faster recipe that produced the committed ranker.
"""

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import UserError, run_cli  # noqa: E402
from asna.core.paths import check_writable  # noqa: E402


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--num-data", type=int, default=2_000_000,
                        help="vectors per epoch (20%% of them held out for validation)")
    parser.add_argument("--length", type=int, default=16, help="vector length L (the IQA batch size)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--schedule", choices=("step", "cosine"), default="step",
                        help="step: x0.1 every 30 epochs (original); cosine: cosine decay to zero")
    parser.add_argument("--architecture", choices=("original", "pairwise"), default="original")
    parser.add_argument("--fresh-data", action="store_true",
                        help="draw new training vectors every epoch instead of reusing one set")
    parser.add_argument("--max-minutes", type=float, default=0.0,
                        help="stop after the first epoch past this many minutes (0 = no limit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="ranking_model/ranker_new.keras",
                        help="where the best model on validation is kept (Keras .keras format)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard an interrupted run's saved state instead of resuming it")
    return parser.parse_args()


def check_arguments(arguments: argparse.Namespace) -> None:
    """One line for every value the training cannot use, before TensorFlow loads."""
    if arguments.length < 2 or arguments.num_data < 10 or arguments.batch_size < 1:
        raise UserError("--length must be at least 2, --num-data at least 10, --batch-size at least 1")
    if arguments.epochs < 1:
        raise UserError(f"--epochs {arguments.epochs}: must be at least 1")
    if not math.isfinite(arguments.learning_rate) or arguments.learning_rate <= 0:
        raise UserError(f"--learning-rate {arguments.learning_rate}: must be a finite number above 0")
    if not math.isfinite(arguments.max_minutes) or arguments.max_minutes < 0:
        raise UserError(f"--max-minutes {arguments.max_minutes}: must be a finite number, 0 or more")
    if arguments.seed < 0:
        raise UserError(f"--seed {arguments.seed}: must be 0 or more")
    if not arguments.out.endswith(".keras"):
        raise UserError(f"{arguments.out}: the model file name must end in .keras")
    check_writable(arguments.out, "--out")


def main() -> int:
    arguments = parse_arguments()
    check_arguments(arguments)
    from asna.ranker.training import RankerRecipe, train_ranker

    recipe = RankerRecipe(architecture=arguments.architecture, num_data=arguments.num_data,
                          length=arguments.length, epochs=arguments.epochs,
                          batch_size=arguments.batch_size, learning_rate=arguments.learning_rate,
                          schedule=arguments.schedule, fresh_data=arguments.fresh_data,
                          seed=arguments.seed, max_minutes=arguments.max_minutes)
    train_ranker(recipe, arguments.out, overwrite=arguments.overwrite)
    print(f"saved the best ranker on validation to {arguments.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
