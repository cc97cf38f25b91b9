"""Prepare PieAPP, TID2008 and TID2013, as downloaded, into data_train.h5 and data_val.h5.

Any non-empty subset of the three datasets. Pairs are streamed (bounded
memory), split by reference image (the 25 TID references of both versions go
to the same side), and the scores standardised per source.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import UserError, run_cli  # noqa: E402
from asna.data import pieapp, preparation, tid  # noqa: E402

STANDARDIZATION = {"tid2008": tid.TID_STANDARDIZATION, "tid2013": tid.TID_STANDARDIZATION,
                   "pieapp": pieapp.PIEAPP_STANDARDIZATION}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Prepare the real datasets PieAPP, TID2008 and TID2013 (any of them, as they come "
                    "out of their archives) into OUT/data_train.h5 and OUT/data_val.h5.",
        epilog="PieAPP: the train and val label splits, one pair per label row (reference, image A), "
               "score = processed preference for A (raw where empty), images zero-padded to the centre "
               "of the canvas. TID: one pair per line of mos_with_names.txt, images centre-cropped; "
               "names matched ignoring case. Standardisation (mos - mean) / std: tid2008 and tid2013 "
               f"{tid.TID_STANDARDIZATION}, pieapp {pieapp.PIEAPP_STANDARDIZATION}. Bad input stops "
               "with one line and exit code 2 unless --skip-bad.")
    parser.add_argument("--pieapp", metavar="DIR",
                        help="PieAPP_dataset folder (holds labels/, reference_images/, distorted_images/)")
    parser.add_argument("--tid2008", metavar="DIR",
                        help="TID2008 folder (holds reference_images/, distorted_images/, mos_with_names.txt)")
    parser.add_argument("--tid2013", metavar="DIR", help="TID2013 folder (same layout as TID2008)")
    preparation.add_output_arguments(parser)
    parser.add_argument("--pieapp-size", type=int, default=pieapp.PIEAPP_SIZE, metavar="P",
                        help="side every PieAPP image must have (default: %(default)s, the release's; "
                             "must not exceed --image-size)")
    return parser


def check(args: argparse.Namespace) -> None:
    if not (args.pieapp or args.tid2008 or args.tid2013):
        raise UserError("no dataset named: give --pieapp, --tid2008 and/or --tid2013")


def collect(args: argparse.Namespace, problems: preparation.Problems) -> list[preparation.SourcePairs]:
    sources = []
    if args.pieapp:
        sources.append(pieapp.collect_pairs(args.pieapp, args.image_size, problems, args.pieapp_size))
    for version in tid.TID_SOURCES:
        if getattr(args, version):
            sources.append(tid.collect_pairs(getattr(args, version), version, args.image_size, problems))
    return sources


def main() -> int:
    return preparation.run(build_parser().parse_args(), STANDARDIZATION, collect, "data", check=check)


if __name__ == "__main__":
    run_cli(main)
