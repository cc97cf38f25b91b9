"""Copies the shipped model into the package when it is built: models/ -> asna/shipped_models/.

Everything else is declared in pyproject.toml. A checkout keeps the trained
model in the top-level models/ folder; an installed package has no checkout
around it, so its wheel carries a copy (asna.api.default_models looks there).
An editable install reads models/ of the checkout itself and copies nothing.

Build output goes to a temporary folder, removed when the build ends, so
``pip install .`` leaves no ``build/`` or ``asna.egg-info/`` in the checkout.
"""

import atexit
import shutil
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODEL_FILES = ("*.keras", "*.json", "README.md")


class BuildPyWithModels(build_py):
    """build_py, then the model files of models/ into the built asna/shipped_models/."""

    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / "models"
        if getattr(self, "editable_mode", False) or not any(source.glob("*.keras")):
            return
        target = Path(self.build_lib) / "asna" / "shipped_models"
        target.mkdir(parents=True, exist_ok=True)
        for pattern in MODEL_FILES:
            for path in sorted(source.glob(pattern)):
                shutil.copy2(path, target / path.name)


def scratch_folder() -> Path:
    """A temporary folder for this build step's output, removed when the step's process ends."""
    folder = Path(tempfile.mkdtemp(prefix="asna-build-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


SCRATCH = scratch_folder()
setup(cmdclass={"build_py": BuildPyWithModels},
      options={"build": {"build_base": str(SCRATCH / "build")}, "egg_info": {"egg_base": str(SCRATCH)}})
