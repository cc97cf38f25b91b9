"""The ablation grid: networks x losses x seeds on the built-in synthetic set.

Each cell trains from configs/<network>_synthetic.txt on DIR/synthetic_train.h5,
keeps the checkpoint with the best validation loss on DIR/synthetic_val.h5 and
reports SRCC on DIR/synthetic_test.h5 and DIR/synthetic_xtest.h5. Losses: mse
(the MSE term alone), mse_plcc (the MSE/PLCC mix, no rank term), learned and
softrank (the mix plus the rank term with that ranker). Writes OUT/results.csv
after every cell (a rerun skips the cells already there), OUT/summary.md (mean
± sd per cell beside PSNR, SSIM, MS-SSIM, GMSD and HaarPSI) and OUT/ablation.png.

Example: python benchmarks/ablation.py --networks simple,bn,attention,tiled \\
    --losses mse,mse_plcc,learned,softrank --seeds 3 --image-size 64 --epochs 12 \\
    --steps-per-epoch 200 --data-dir data/synthetic --out runs/ablation
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.config import NETWORKS  # noqa: E402
from asna.core.errors import run_cli  # noqa: E402
from asna.core.precision import PRECISIONS  # noqa: E402
from asna.evaluation import positive_int  # noqa: E402
from asna.studies.ablation import LOSSES, Grid, parse_names, run_grid  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"comma-separated, of {', '.join(NETWORKS)}")
    parser.add_argument("--losses", default=",".join(LOSSES), help=f"comma-separated, of {', '.join(LOSSES)}")
    parser.add_argument("--seeds", type=positive_int, default=3, metavar="N", help="seeds 0..N-1 per cell (default 3)")
    parser.add_argument("--image-size", type=positive_int, default=64, metavar="S",
                        help="side of the prepared pairs and the models' input (default 64)")
    parser.add_argument("--epochs", type=positive_int, default=12, metavar="E", help="epochs per cell (default 12)")
    parser.add_argument("--steps-per-epoch", type=positive_int, default=200, metavar="K",
                        help="training steps per epoch (default 200)")
    parser.add_argument("--data-dir", default="data/synthetic", metavar="DIR",
                        help="folder of synthetic_{train,val,test,xtest}.h5 (default data/synthetic)")
    parser.add_argument("--out", default="runs/ablation", metavar="OUT", help="output folder (default runs/ablation)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="training.precision of every cell (default auto)")
    arguments = parser.parse_args()
    grid = Grid(networks=parse_names(arguments.networks, NETWORKS, "--networks"),
                losses=parse_names(arguments.losses, LOSSES, "--losses"), seeds=arguments.seeds,
                image_size=arguments.image_size, epochs=arguments.epochs,
                steps_per_epoch=arguments.steps_per_epoch, data_dir=Path(arguments.data_dir),
                out=Path(arguments.out), precision=arguments.precision)
    run_grid(grid)
    return 0


if __name__ == "__main__":
    run_cli(main)
