"""Train the attention Siamese-difference network from a text config.

Example: python train_attention.py --config configs/attention_synthetic.txt --set training.epochs=2
The best model on validation loss is kept at training.model_path; --resume
continues an interrupted run at its next epoch, optimiser state included.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402
from asna.training.cli import train_main  # noqa: E402

if __name__ == "__main__":
    run_cli(lambda: train_main("attention", __doc__))
