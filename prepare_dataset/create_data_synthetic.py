"""Build the built-in KADID-style synthetic set (no download needed).

Writes OUT/synthetic_train.h5, synthetic_val.h5 and synthetic_test.h5 (disjoint
photographs), synthetic_xtest.h5 (the test references distorted by a second,
independent implementation of the same types) and, unless --no-full, the
full-resolution check folders OUT/full_val/ and OUT/full_test/ (the validation
and test photographs at their own size, challenge layout); optionally the
train, val and test pairs as a challenge-style folder (Ref/, Dis/, labels.txt)
and the figure of one reference with all its distortions. --procedural N adds
N procedural training images (asna.data.procedural) to the training file only;
--procedural-figure PNG draws four of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import UserError, run_cli  # noqa: E402
from asna.data import synthetic  # noqa: E402
from asna.data.full_resolution import MAX_SIDE  # noqa: E402


def scale_range(text: str) -> tuple[float, float]:
    """``LOW,HIGH`` as two floats (argparse turns the ValueError into a one-line error)."""
    low, high = (float(part) for part in text.split(","))
    return low, high


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", metavar="DIR", help="folder for synthetic_{train,val,test,xtest}.h5")
    parser.add_argument("--image-size", type=int, default=288, help="side of the square crops (32-1024)")
    parser.add_argument("--crops-per-image", type=int, default=1,
                        help="reference crops per validation/test photograph (~118 pairs per crop)")
    parser.add_argument("--train-crops-per-image", type=int, default=None,
                        help="reference crops per training photograph (default: "
                        f"{synthetic.TRAIN_CROPS_FACTOR} x --crops-per-image)")
    parser.add_argument("--scale-range", type=scale_range, default=synthetic.DEFAULT_SCALE_RANGE,
                        metavar="LOW,HIGH", help="training crops not at native scale: the photograph's shorter "
                        "side is resized to a random LOW-HIGH x the crop side, never past its own size "
                        "(default 1,16; validation and test: 1.5)")
    parser.add_argument("--native-share", type=float, default=synthetic.DEFAULT_NATIVE_SHARE,
                        help="share of training crops cut at the photograph's own scale (default "
                        f"{synthetic.DEFAULT_NATIVE_SHARE:g})")
    parser.add_argument("--no-colour-variation", action="store_true",
                        help="keep training crops' colour channels in order (default: random order)")
    parser.add_argument("--jitter", type=float, default=synthetic.DEFAULT_JITTER,
                        help="training distortions: strength drawn within +-JITTER levels (0: exact levels)")
    parser.add_argument("--procedural", type=int, default=0, metavar="N",
                        help="add N procedural images (dead leaves, textured leaves: leaves_00, texture_01, ...) "
                        "to the training photographs only, after them (default 0: the photographs alone)")
    parser.add_argument("--no-xtest", action="store_true", help="do not write synthetic_xtest.h5")
    parser.add_argument("--no-full", action="store_true",
                        help="do not write the full-resolution check folders OUT/full_val/ and OUT/full_test/ "
                        "(validation and test photographs at their own size, central window of at most "
                        f"{MAX_SIDE} px; about a minute on 2 cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of crops and distortions")
    parser.add_argument("--export-images", metavar="DIR2",
                        help="also write DIR2/Ref/A0001.bmp, DIR2/Dis/A0001_TT_LL.bmp, DIR2/labels.txt")
    parser.add_argument("--grid", metavar="PNG", help="also draw one reference with all its distortions")
    parser.add_argument("--grid-size", type=int, default=96, help="crop side used in the figure")
    parser.add_argument("--procedural-figure", metavar="PNG",
                        help="also draw the first four procedural images (256 x 256, this --seed)")
    parser.add_argument("--workers", type=int, default=None, help="processes for the distortions")
    return parser.parse_args()


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse output paths that cannot be written before any image is made."""
    from asna.core.paths import check_writable

    for option, figure in (("--grid", args.grid), ("--procedural-figure", args.procedural_figure)):
        if figure is not None:
            from asna.evaluation.report import check_figure_path

            check_figure_path(figure, option)
    if args.out is not None:
        check_writable(Path(args.out) / "synthetic_train.h5", "--out")
        if not args.no_full:
            from asna.data.full_resolution import check_targets

            check_targets(args.out)
    if args.export_images is not None:
        check_writable(Path(args.export_images) / "labels.txt", "--export-images")


def main() -> int:
    args = parse_arguments()
    if args.out is None and args.grid is None and args.procedural_figure is None:
        raise UserError("nothing to do: give --out DIR (and/or --grid PNG, --procedural-figure PNG)")
    check_outputs(args)
    from tqdm import tqdm

    if args.grid is not None:
        if not synthetic.MIN_IMAGE_SIZE <= args.grid_size <= 512:
            raise UserError(f"--grid-size {args.grid_size}: must be between {synthetic.MIN_IMAGE_SIZE} and 512")
        print(f"figure -> {synthetic.save_grid(args.grid, args.grid_size, args.seed)}")
    if args.procedural_figure is not None:
        from asna.data.procedural import save_montage

        print(f"figure -> {save_montage(args.procedural_figure, 4, args.seed)}")
    if args.out is None:
        return 0
    workers = args.workers if args.workers is not None else synthetic.default_workers()
    if workers < 1:
        raise UserError(f"--workers {workers}: must be 1 or more")
    summary = synthetic.create_synthetic(
        args.out, image_size=args.image_size, crops_per_image=args.crops_per_image, seed=args.seed,
        export_dir=args.export_images, workers=workers, train_crops_per_image=args.train_crops_per_image,
        scale_range=args.scale_range, colour_variation=not args.no_colour_variation,
        native_share=args.native_share, jitter=args.jitter,
        xtest=not args.no_xtest, full=not args.no_full, procedural=args.procedural,
        progress=lambda items, total: tqdm(items, total=total, unit="ref", desc="distorting"))
    print("\n".join(synthetic.summary_lines(summary, args.out)))
    return 0


if __name__ == "__main__":
    run_cli(main)
