"""Where the trained model shipped with the project is, in a checkout and in an installed package.

A checkout keeps it in the top-level ``models/`` folder (a ``.keras`` file, its
``.json`` sidecar and a model card); ``pip install`` copies those files into
the package as ``asna/shipped_models/`` (``setup.py``), because an installed
package has no checkout around it. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

from asna.core.paths import REPO_ROOT
from asna.evaluation import DEFAULT_MODELS

CHECKOUT_MODELS = REPO_ROOT / DEFAULT_MODELS
INSTALLED_MODELS = Path(__file__).resolve().parents[1] / "shipped_models"


def _holds_models(folder: Path) -> bool:
    return folder.is_dir() and any(path.is_file() for path in folder.glob("*.keras"))


def _is_checkout() -> bool:
    """True when the package runs from the repository (editable install or plain checkout).

    An installed package's parent folder is ``site-packages``, where another
    distribution may have put a ``models`` folder of its own.
    """
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "asna").is_dir()


def shipped_models() -> Path | None:
    """The folder of the shipped model: the checkout's ``models/``, else the installed copy."""
    if _is_checkout() and _holds_models(CHECKOUT_MODELS):
        return CHECKOUT_MODELS
    if _holds_models(INSTALLED_MODELS):
        return INSTALLED_MODELS
    return None


def script_default_models() -> list[str] | None:
    """What ``--models`` means when it is not given: the shipped model, as for ``asna.load_metric()``.

    Never a ``models/`` folder of the current directory: the default must not
    change with the folder a command is started from (a folder of one's own is
    named with ``--models``). ``None`` when no model is shipped leaves the
    scorer to name the missing ``models/`` folder and ``--models`` in its
    one-line error.
    """
    folder = shipped_models()
    return [str(folder)] if folder is not None else None
