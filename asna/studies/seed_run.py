"""One run of a seed study in a process of its own, started by ``run_study(..., jobs=N)``.

Internal: ``python -m asna.studies.seed_run SPEC``, SPEC the JSON of
:func:`asna.studies.seed_study.train_run`'s arguments (``recipe``, the
:class:`~asna.studies.recipe.DemoRecipe`'s fields) plus ``parent``, the
study's process id. Runs side by side share the CPUs, so TensorFlow's thread
counts come from ``TF_NUM_INTRAOP_THREADS`` and ``TF_NUM_INTEROP_THREADS``
(the study sets them to its share) and are applied before any op runs. Ctrl-C
is left to the study, which stops its runs with SIGTERM; a run also gets
SIGTERM when the study's process dies, however it dies. SIGTERM ends the run
as Ctrl-C ends a script (``asna.core.errors.run_cli``), its training resumable.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from asna.core.errors import UserError, run_cli
from asna.core.quiet import quiet_tensorflow


def thread_count(name: str) -> int | None:
    """A thread count from the environment; None when unset (TensorFlow's own pick)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"{name}={text}: expected a whole number of threads, 1 or more")
    return int(text)


def main() -> int:
    from asna.data.workers import die_with_parent
    from asna.profiling.throughput import set_threads
    from asna.studies.recipe import DemoRecipe
    from asna.studies.seed_study import THREAD_VARIABLES, train_run

    if len(sys.argv) != 2:
        raise UserError("usage: python -m asna.studies.seed_run SPEC (started by benchmarks/demo_seeds.py --jobs)")
    spec = json.loads(sys.argv[1])
    die_with_parent(spec.pop("parent"), signal.SIGTERM)
    intra_op, inter_op = (thread_count(name) for name in THREAD_VARIABLES)
    set_threads(inter_op, intra_op)
    train_run(DemoRecipe(**spec.pop("recipe")), **spec)
    return 0


if __name__ == "__main__":
    quiet_tensorflow()  # before anything imports TensorFlow
    run_cli(main)
