"""The demo over several training seeds and precisions: mean ± sd of its SRCC on every set it reports.

Trains the demo's attention network once per (precision, seed) on the same
built-in set (made or reused in --data-dir), each run in OUT/<precision>_seed<k>/,
and writes OUT/results.csv (a row per run: SRCC and PLCC on test, xtest and full,
the test photographs at their own resolution, and live_dev, people's ratings of
LIVE photographs, when that folder is there) and OUT/summary.md (mean ± sd per
precision beside PSNR, SSIM, MS-SSIM, -GMSD and HaarPSI, then per distortion
type; runs made before a set existed leave its cells empty). Runs already finished
(their metrics.json exists) are kept, so an interrupted study resumes. With
--jobs N the runs train side by side, N at a time, each in a process of its own
writing OUT/<precision>_seed<k>/console.log (make model's three seeds of the
built-in model, on a 2-core CPU: 62 min side by side, data included; one after another,
about three times a seed's 30-35 min alone, an estimate, not a timed run).

Example: python benchmarks/demo_seeds.py --seeds 3 --precisions mixed_bfloat16,float32 --jobs 2
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402
from asna.core.precision import PRECISIONS  # noqa: E402
from asna.evaluation import positive_int  # noqa: E402
from asna.studies.recipe import DemoRecipe, add_demo_arguments  # noqa: E402


def precision_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or any(name not in PRECISIONS for name in names):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(PRECISIONS)}")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=positive_int, default=3, metavar="N", help="training seeds 0..N-1 (default 3)")
    parser.add_argument("--precisions", type=precision_list, default=["auto"],
                        help=f"comma-separated, of {', '.join(PRECISIONS)} (default auto)")
    parser.add_argument("--out", default="runs/demo_seeds", help="output folder (default runs/demo_seeds)")
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="runs trained at once, each in a process of its own with TensorFlow threads of "
                             "CPUs // N and its output in its folder's console.log; the data set and the classic "
                             "metrics' scores are made first, once (default 1: one after another, in this process)")
    add_demo_arguments(parser)
    arguments = parser.parse_args()
    from asna.studies.seed_study import run_study

    run_study(DemoRecipe.from_arguments(arguments), arguments.out, arguments.seeds, arguments.precisions,
              arguments.overrides, "python " + " ".join(["benchmarks/demo_seeds.py", *sys.argv[1:]]),
              jobs=arguments.jobs)
    return 0


if __name__ == "__main__":
    run_cli(main)
