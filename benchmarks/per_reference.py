"""Where a pooled SRCC is lost between photographs: each method's SRCC within every reference, and its offset.

Reads the predictions CSV a report writes (evaluation_dataset.py --csv, the demo's and the seed
study's *predictions.csv) and prints, per method, the pooled SRCC, the SRCC once each reference's
values are ranked within it (offsets between references removed) and, per reference, the SRCC over
its pairs and its offset: the mean of its pairs' values minus that of their labels, both in standard
deviations over the set (asna/evaluation/per_reference.py). On the built-in sets, whose labels do
not depend on the photograph, a method can lead within every photograph and trail on the pool.
Several CSVs (a seed study's runs): a table each, then the model's mean and sd over them.

Example: python benchmarks/per_reference.py runs/built_in_gms_proc_seeds/auto_seed*/full_predictions.csv
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow (the package's report module may)

from asna.core.errors import run_cli  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", nargs="+", help="predictions CSV (columns reference, mos and one per method)")
    parser.add_argument("--json", metavar="OUT.json", help="also write every file's figures to this file")
    args = parser.parse_args()
    from asna.core.paths import atomic_write
    from asna.evaluation.per_reference import per_reference, read_predictions, table_text

    reports = {}
    for path in args.csv:
        reports[path] = per_reference(*read_predictions(path))
        print(f"{path}\n{table_text(reports[path])}\n")
    models = [report["model"] for report in reports.values() if "model" in report]
    if len(models) > 1:
        print(f"model over {len(models)} files: " + ", ".join(
            f"{key} {np.mean([m[key] for m in models]):.4f} ± {np.std([m[key] for m in models], ddof=1):.4f}"
            for key in ("pooled", "within")))
    if args.json:
        atomic_write(args.json, lambda temporary: temporary.write_text(json.dumps(reports, indent=2) + "\n"))
    return 0


if __name__ == "__main__":
    run_cli(main)
