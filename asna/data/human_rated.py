"""Where the human-rated development folder (``live_dev``) is, when it is there.

Every other figure of the project is against synthetic labels (KADID-10k's
per-condition means); ``live_dev`` holds real people's ratings of LIVE
photographs, so choices can be checked against what viewers saw. It is not in
the repository (its images carry their own copyright notice and stay beside
it), so it is looked up, in this order: the ``--live-dev`` option, the
``ASNA_LIVE_DEV`` environment variable, then ``../shared/real/live_dev`` from
the repository root. ``none`` (option or variable) turns it off. A folder that
is not there is skipped with one line, never an error, unless the option named
it.
"""

from __future__ import annotations

import os
from pathlib import Path

from asna.core.errors import UserError
from asna.core.paths import REPO_ROOT

NAME = "live_dev"
ENVIRONMENT = "ASNA_LIVE_DEV"
DEFAULT = REPO_ROOT.parent / "shared" / "real" / NAME
OFF = "none"
PARTS = ("Ref", "Dis", "labels.txt")


def is_labelled_folder(folder: Path) -> bool:
    """Whether ``folder`` holds ``Ref/``, ``Dis/`` and ``labels.txt``."""
    return all((folder / part).exists() for part in PARTS)


def live_dev_folder(option: str | None = None) -> tuple[Path | None, str]:
    """The folder, or None with the one line that says why it is left out.

    A folder named by ``option`` that is not a labelled folder is an error: the
    user asked for it. The variable and the default are only looked at.
    """
    if option is not None:
        if option.lower() == OFF:
            return None, f"{NAME}: not scored (--live-dev {OFF})"
        folder = Path(option)
        if not is_labelled_folder(folder):
            raise UserError(f"{folder}: --live-dev wants a folder with {', '.join(PARTS)}")
        return folder, ""
    named = os.environ.get(ENVIRONMENT)
    if named is not None and named.lower() == OFF:
        return None, f"{NAME}: not scored ({ENVIRONMENT}={OFF})"
    folder = Path(named) if named else DEFAULT
    if not is_labelled_folder(folder):
        return None, f"{NAME}: not scored, no labelled folder at {folder} (set {ENVIRONMENT} or --live-dev)"
    return folder, ""
