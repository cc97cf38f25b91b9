"""Argument parsing shared by the training scripts."""

from __future__ import annotations

import argparse

from asna.config import add_config_arguments, load_config


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
    from asna.training import train  # TensorFlow loads only once the config is known good

    train(network, config, resume=arguments.resume, overwrite=arguments.overwrite)
    return 0
