"""One error type for bad user input, and the wrapper that turns it into one line.

Scripts must end bad input with a single readable line and exit code 2, never a
traceback; everything the package raises for such input is a ``UserError``.
"""

from __future__ import annotations

import sys
from typing import Callable, NoReturn

USER_ERROR_EXIT_CODE = 2


class UserError(Exception):
    """Input the user can fix: a missing file, a bad value, a wrong option."""


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with code 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(USER_ERROR_EXIT_CODE)


def run_cli(main: Callable[[], int | None]) -> None:
    """Run a script's ``main`` and turn ``UserError`` into one line, exit code 2."""
    try:
        code = main()
    except UserError as error:
        fail(str(error))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130)
    raise SystemExit(code or 0)
