"""Compare surrogate and true Spearman correlation for random N(0, 1) vector pairs.

Prints the absolute error's mean, median, 95th percentile and maximum for the
learned ranker and for the soft-rank surrogate; ``--json`` ends the output with
one JSON line.
"""

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import UserError, run_cli  # noqa: E402

DEFAULT_MODEL = str(Path(__file__).resolve().parent / "ranker.keras")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="learned ranker (.keras)")
    parser.add_argument("--num-tests", type=int, default=1000, help="random vector pairs")
    parser.add_argument("--temperature", type=float, default=None,
                        help="soft-rank temperature (default: the config schema's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    return parser.parse_args()


def check_arguments(arguments: argparse.Namespace) -> None:
    """One line for every value the comparison cannot use, before TensorFlow loads."""
    if arguments.num_tests < 1:
        raise UserError(f"--num-tests {arguments.num_tests}: must be at least 1")
    if arguments.seed < 0:
        raise UserError(f"--seed {arguments.seed}: must be 0 or more")
    if arguments.temperature is not None and not (math.isfinite(arguments.temperature)
                                                   and arguments.temperature > 0):
        raise UserError(f"--temperature {arguments.temperature}: must be a finite number above 0")


def main() -> int:
    arguments = parse_arguments()
    check_arguments(arguments)
    from asna.core.config import SCHEMA
    from asna.ranker.evaluation import spearman_errors
    from asna.ranker.models import load_ranker, ranker_length
    from asna.ranker.softrank import soft_rank

    temperature = (SCHEMA["loss"]["softrank_temperature"].default if arguments.temperature is None
                   else arguments.temperature)
    model = load_ranker(arguments.model)
    length = ranker_length(model)
    figures = {
        "learned": spearman_errors(lambda v: model.predict(v, batch_size=4096, verbose=0),
                                   arguments.num_tests, length, arguments.seed),
        "softrank": spearman_errors(lambda v: soft_rank(v, temperature).numpy(),
                                    arguments.num_tests, length, arguments.seed),
    }
    print(f"{arguments.num_tests} pairs of N(0,1) vectors of length {length}; "
          f"|surrogate - true Spearman|:")
    print(f"{'ranker':<22}{'mean':>9}{'median':>9}{'p95':>9}{'max':>9}")
    labels = {"learned": f"learned ({Path(arguments.model).name})",
              "softrank": f"softrank (T={temperature:g})"}
    for name, stats in figures.items():
        print(f"{labels[name]:<22}" + "".join(f"{stats[k]:>9.4f}" for k in ("mae", "median", "p95", "max")))
    if arguments.json:
        summary = {"learned_mae": figures["learned"]["mae"], "softrank_mae": figures["softrank"]["mae"],
                   "num_tests": arguments.num_tests, "length": length, "temperature": temperature,
                   "model": arguments.model, "learned": figures["learned"], "softrank": figures["softrank"]}
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    run_cli(main)
