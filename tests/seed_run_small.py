"""A seed study's child run at the tests' sizes: ``asna.studies.seed_run`` on a small built-in set.

The tests build the built-in set with two distortion types and small
full-resolution folders (:func:`small_sizes`); a child run checks the set's
options against the same sizes, so it reuses the set as a child of
``make model`` reuses the study's, and scores a few hundred pairs, not thousands.
"""

from asna.core.quiet import quiet_tensorflow

SMALL_SIDE = 64  # px: the full-resolution folders' side
SMALL_TYPES = (1, 10)  # Gaussian blur and JPEG


def small_sizes(patch) -> None:
    """Set the small sizes through ``patch.setattr`` (a pytest ``MonkeyPatch``, or ``setattr`` itself)."""
    from asna.data import full_resolution, synthetic

    patch.setattr(full_resolution, "MAX_SIDE", SMALL_SIDE)
    patch.setattr(synthetic, "ALL_TYPES", SMALL_TYPES)  # what the demo's data step asks for


if __name__ == "__main__":
    import types

    quiet_tensorflow()
    from asna.core.errors import run_cli
    from asna.studies.seed_run import main

    small_sizes(types.SimpleNamespace(setattr=setattr))
    run_cli(main)
