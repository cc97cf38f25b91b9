"""Argument parsing and checks shared by the training scripts (no TensorFlow import here)."""

from __future__ import annotations

import argparse

from asna.config import NETWORKS, Config, add_config_arguments, load_config
from asna.errors import UserError

SCRIPT_FOR_NETWORK = {name: f"train_{name}.py" for name in NETWORKS}


def check_network(config: Config, network: str) -> None:
    """Refuse a config meant for another network, naming the right script."""
    wanted = config.model.network
    if wanted != network:
        raise UserError(f"{config.source}: [model] network is {wanted!r}; train it with "
                        f"{SCRIPT_FOR_NETWORK[wanted]} (this is {SCRIPT_FOR_NETWORK[network]})")


def train_main(network: str, description: str) -> int:
    """Parse ``--config/--set/--resume/--overwrite`` and train ``network``."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    parser.add_argument("--resume", action="store_true",
                        help="continue the run at training.model_path from its last finished epoch")
    parser.add_argument("--overwrite", action="store_true",
                        help="start again even if training.model_path's folder already holds a run")
    arguments = parser.parse_args()
    config = load_config(arguments.config, arguments.overrides)
    check_network(config, network)
    from asna.run_state import RunFiles, check_training_run

    check_training_run(config, RunFiles(config.training.model_path), arguments.resume, arguments.overwrite)
    from asna.training import train  # TensorFlow loads only once the config, data and run are known good

    train(network, config, resume=arguments.resume, overwrite=arguments.overwrite, checked=True)
    return 0
