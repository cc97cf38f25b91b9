"""Seconds and peak memory of scoring one large pair, with the shipped model by default.

Each case (a size and a TTA mode) runs in a fresh process, so that its peak
resident size is its own; the table gives the scoring time (the model loaded
and traced before), the process's peak resident size, how far scoring raised
it, and the two images' own size for scale. A case that runs past --timeout is
reported as not done. The last line is one JSON object.

Example: python benchmarks/single_pair_memory.py --sizes 1920x1080 8000x8000 --tta none full
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

from asna.core.errors import run_cli  # noqa: E402
from asna.evaluation import TTA_MODES  # noqa: E402


def cpu_name() -> str:
    """The CPU's model name (Linux), else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1920x1080", "8000x8000"], metavar="WxH",
                        help="pair sizes (default 1920x1080 8000x8000)")
    parser.add_argument("--tta", nargs="+", choices=TTA_MODES, default=["none", "full"],
                        help="TTA modes (default none full)")
    parser.add_argument("--models", nargs="+", metavar="PATH", default=None,
                        help="model files or folders (default: the shipped model)")
    parser.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                        help="seconds one case may take before it is reported as not done (default 1800)")
    args = parser.parse_args()
    from asna.profiling.single_pair import format_row, measure_in_fresh_process, parse_size

    sizes = [parse_size(size) for size in args.sizes]
    print(f"{cpu_name()}, {time.strftime('%Y-%m-%d %H:%M %Z')}", flush=True)
    rows = []
    for height, width in sizes:
        for tta in args.tta:
            rows.append(measure_in_fresh_process(args.models, height, width, tta, args.timeout))
            print(format_row(rows[-1]), flush=True)
    print(json.dumps({"cases": rows}))
    return 0


if __name__ == "__main__":
    run_cli(main)
