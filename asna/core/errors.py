"""One error type for bad user input, and the wrapper that turns it into one line.

Scripts must end bad input with a single readable line and exit code 2, never a
traceback; everything the package raises for such input is a ``UserError``.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys
from typing import Callable, NoReturn

USER_ERROR_EXIT_CODE = 2
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
"""OS errors that say the disk, not the program, failed: one line, never a traceback."""


class UserError(Exception):
    """Input the user can fix: a missing file, a bad value, a wrong option."""


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with code 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(USER_ERROR_EXIT_CODE)


def carried_user_error(error: BaseException) -> str | None:
    """The message of a ``UserError`` raised inside TensorFlow's input pipeline, else None.

    tf.data re-raises an exception of a Python generator as its own error
    type, with the original's class name and message in its text (a damaged
    HDF5 chunk read while training or scoring, say).
    """
    if not type(error).__module__.startswith("tensorflow"):
        return None
    match = re.search(r"\bUserError: ([^\n]+)", str(error))
    return match.group(1).strip() if match else None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the script is so it cleans up exactly as after Ctrl-C."""


def _raise_terminated(signum, frame) -> NoReturn:
    raise Terminated()


def run_cli(main: Callable[[], int | None]) -> None:
    """Run a script's ``main`` and turn ``UserError`` into one line, exit code 2.

    A full disk, a file-size limit or a read-only mount that escaped the
    writers' own handling is one line too. Ctrl-C and SIGTERM unwind the
    script the same way (temporary files are removed on the way out), then
    exit with 130 or 143 and one line.
    """
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = main()
    except UserError as error:
        fail(str(error))
    except OSError as error:
        if error.errno not in WRITE_ERRNOS:
            raise
        fail(f"{error.filename or 'an output file'}: cannot write the file ({os.strerror(error.errno)})")
    except Exception as error:
        message = carried_user_error(error)
        if message is None:
            raise
        fail(message)
    except KeyboardInterrupt as interruption:
        terminated = isinstance(interruption, Terminated)
        print("terminated" if terminated else "interrupted", file=sys.stderr)
        raise SystemExit(143 if terminated else 130)
    raise SystemExit(code or 0)
