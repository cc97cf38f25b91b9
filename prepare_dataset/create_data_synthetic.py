"""Build the built-in KADID-style synthetic set (no download needed).

Writes OUT/synthetic_train.h5 and OUT/synthetic_val.h5; optionally the same
pairs as a challenge-style folder (Ref/, Dis/, labels.txt) and the figure of
one reference with all its distortions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asna.errors import UserError, run_cli  # noqa: E402


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", metavar="DIR", help="folder for synthetic_train.h5 and synthetic_val.h5")
    parser.add_argument("--image-size", type=int, default=288, help="side of the square crops (32-1024)")
    parser.add_argument("--crops-per-image", type=int, default=1,
                        help="reference crops per photograph (17 photographs; ~118 pairs per crop)")
    parser.add_argument("--seed", type=int, default=0, help="seed of crops, split and distortions")
    parser.add_argument("--val-ratio", type=float, default=0.2, help="fraction of photographs in validation")
    parser.add_argument("--export-images", metavar="DIR2",
                        help="also write DIR2/Ref/A0001.bmp, DIR2/Dis/A0001_TT_LL.bmp, DIR2/labels.txt")
    parser.add_argument("--grid", metavar="PNG", help="also draw one reference with all its distortions")
    parser.add_argument("--grid-size", type=int, default=96, help="crop side used in the figure")
    parser.add_argument("--workers", type=int, default=None, help="processes for the distortions")
    return parser.parse_args()


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse output paths that cannot be written before any image is made."""
    from asna.paths import check_writable

    if args.grid is not None:
        from asna.evaluation.report import check_figure_path

        check_figure_path(args.grid, "--grid")
    if args.out is not None:
        check_writable(Path(args.out) / "synthetic_train.h5", "--out")
    if args.export_images is not None:
        check_writable(Path(args.export_images) / "labels.txt", "--export-images")


def main() -> int:
    args = parse_arguments()
    if args.out is None and args.grid is None:
        raise UserError("nothing to do: give --out DIR (and/or --grid PNG)")
    check_outputs(args)
    from tqdm import tqdm

    from asna.data import synthetic

    if args.grid is not None:
        if not synthetic.MIN_IMAGE_SIZE <= args.grid_size <= 512:
            raise UserError(f"--grid-size {args.grid_size}: must be between {synthetic.MIN_IMAGE_SIZE} and 512")
        print(f"figure -> {synthetic.save_grid(args.grid, args.grid_size, args.seed)}")
    if args.out is None:
        return 0
    workers = args.workers if args.workers is not None else synthetic.default_workers()
    if workers < 1:
        raise UserError(f"--workers {workers}: must be 1 or more")
    summary = synthetic.create_synthetic(
        args.out, image_size=args.image_size, crops_per_image=args.crops_per_image, seed=args.seed,
        val_ratio=args.val_ratio, export_dir=args.export_images, workers=workers,
        progress=lambda items, total: tqdm(items, total=total, unit="ref", desc="distorting"))
    print("\n".join(synthetic.summary_lines(summary, args.out)))
    return 0


if __name__ == "__main__":
    run_cli(main)
