"""TensorFlow's start-up chatter kept off the terminal of the scripts and console commands.

TensorFlow's C++ side writes its own log lines to file descriptor 2: the oneDNN
notice and "Could not find cuda drivers" while ``import tensorflow`` runs (the
absl banner "All log messages before absl::InitializeLog()" with them, at any
``TF_CPP_MIN_LOG_LEVEL``), then ``E0000 ... cuInit`` on the first device call,
the grappler remapper's ``E0000 ... INVALID_ARGUMENT`` during training and a
``W0000 ... GeneratorDataset`` line after Ctrl-C. None of them says anything
about the user's run, and the ``E`` lines read as failures. Measured with
TensorFlow 2.21 on a CPU machine: ``TF_CPP_MIN_LOG_LEVEL=3`` silences the lines
written after the import, but only moving descriptor 2 aside while the import
runs silences the import's own lines.

:func:`quiet_tensorflow` does both, once, and must run before anything imports
TensorFlow: every script and console command calls it first. Whatever the
import writes that is not such a line (a Python warning, an error) is written
to stderr after it, so nothing real is lost. ``ASNA_VERBOSE=1`` in the
environment leaves TensorFlow's logging as it is (``TF_CPP_MIN_LOG_LEVEL``
then means what TensorFlow says). Library use (``import asna``) is never
quietened: a library does not touch its caller's file descriptors.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
from types import ModuleType
from typing import Any, Iterator

VERBOSE_VARIABLE = "ASNA_VERBOSE"
"""Set to 1 (or true, yes, on) to see TensorFlow's own log lines."""

QUIET_LEVEL = "3"
"""``TF_CPP_MIN_LOG_LEVEL`` of the quiet mode: 2 still lets the ``E0000`` lines through."""

CHATTER = re.compile(r"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.\-]+:\d+\] "
                     r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                     r"|To enable the following instructions: )")
"""Lines of TensorFlow's import that are notices, not problems: absl's ``I``/``W`` lines and banner."""

_installed = False


def verbose() -> bool:
    """True when the environment asks for TensorFlow's log (``ASNA_VERBOSE=1``)."""
    return os.environ.get(VERBOSE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def quiet_tensorflow() -> None:
    """Silence TensorFlow's log for this process (and its children) unless ``ASNA_VERBOSE`` is set.

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` and wraps the first ``import tensorflow``
    (wherever it happens, usually only once models load, so bad input is still
    refused in a second) in :func:`silenced_stderr`. Calling it again, or after
    TensorFlow is imported, does no harm.
    """
    global _installed
    if verbose() or _installed:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = QUIET_LEVEL
    _installed = True
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietFinder())


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """Route file descriptor 2 to a temporary file; afterwards write back what is not chatter.

    Works below Python, so it catches what C++ libraries write. On an error the
    whole capture is written back, so a failing import still explains itself.
    A process without a descriptor 2 runs the block as it is.
    """
    _flush_stderr()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            kept = text if failed else "".join(line for line in text.splitlines(keepends=True)
                                                if not CHATTER.match(line))
            if kept and sys.stderr is not None:
                sys.stderr.write(kept)
                sys.stderr.flush()


def _flush_stderr() -> None:
    if sys.stderr is not None:
        sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """The real loader of ``tensorflow``, its module run inside :func:`silenced_stderr`."""

    def __init__(self, loader: Any):
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with silenced_stderr():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do, then hands it to :class:`_QuietLoader`; once."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec
