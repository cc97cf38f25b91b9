"""Draw each network's architecture into figures/architecture_<network>.png.

Usage: python draw_architectures.py [--config FILE] [--set model.KEY=VALUE] [--networks simple tiled]
Builds each network from the config (defaults: the original hyperparameters at
288x288) and draws it with matplotlib; prints one line per figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.config import add_config_arguments, load_config  # noqa: E402
from asna.core.errors import run_cli  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser, config_required=False)
    parser.add_argument("--networks", nargs="+", default=None, metavar="NETWORK",
                        help="networks to draw (default: all four)")
    parser.add_argument("--out-dir", default="figures", help="folder for the PNG files")
    args = parser.parse_args()

    from asna.models import NETWORKS
    from asna.models.diagram import build_for_drawing, draw

    config = load_config(args.config, args.overrides)
    for network in args.networks or NETWORKS:
        model = build_for_drawing({**config.model.as_dict(), "network": network})
        path = draw(model, Path(args.out_dir) / f"architecture_{network}.png")
        print(f"{path}: {network}, {model.count_params():,} parameters")
    return 0


if __name__ == "__main__":
    run_cli(main)
