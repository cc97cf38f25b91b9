"""Write a copy of a prepared built-in file whose labels vary with content within each condition.

Each pair's label becomes its (type, level) mean plus WEIGHT times how much
better or worse a hand-crafted metric (HaarPSI, or -GMSD) finds this pair than
the condition's average pair, in score units (the metric fitted to the labels
over the file); --across also moves each condition's mean part of the way to
the metric's: asna/data/content_labels.py. Only mos and y change.

Example: python prepare_dataset/content_labels.py data/synthetic/synthetic_train.h5 \
    data/synthetic/synthetic_train_content.h5 --weight 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402
from asna.data.content_labels import METRICS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a prepared file of the built-in set (names <ref>_<type>_<level>)")
    parser.add_argument("target", help="the relabelled copy to write")
    parser.add_argument("--weight", type=float, default=1.0, help="share of the metric's within-condition "
                                                                  "spread added to the labels (default 1)")
    parser.add_argument("--across", type=float, default=0.0,
                        help="share of the way each condition's mean moves to the metric's (default 0: "
                             "KADID's scale across conditions kept)")
    parser.add_argument("--metric", choices=METRICS, default="haarpsi", help="the content term's metric")
    arguments = parser.parse_args()
    from asna.data.content_labels import relabel

    done = relabel(arguments.source, arguments.target, arguments.weight, arguments.metric, arguments.across)
    print(f"{done.path}: {done.pairs} pairs in {done.conditions} conditions; f = {done.slope:.3f} x "
          f"{arguments.metric} + {done.offset:.3f}; label = condition mean + {arguments.weight:g} x (f - its "
          f"condition mean) + {arguments.across:g} x (condition mean of f - condition mean); mean change "
          f"{done.mean_change:.3f}, mean within-condition sd {done.within_sd:.3f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
