"""Argument parsing and checks shared by the training scripts (no TensorFlow import here)."""

from __future__ import annotations

import argparse

from asna.core.config import add_config_arguments, check_network, load_config


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
    from asna.training.earlier_run import report, settle_earlier_run
    from asna.training.run_state import RunFiles, check_training_run

    files = RunFiles(config.training.model_path)
    report(settle_earlier_run(files), files)  # an --overwrite killed before its first save: put the run back
    check_training_run(config, files, arguments.resume, arguments.overwrite)
    from asna.training.loop import train  # TensorFlow loads only once the config, data and run are known good

    train(network, config, resume=arguments.resume, overwrite=arguments.overwrite, checked=True)
    return 0
