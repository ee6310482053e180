"""One way for every command-line tool to end: a user error is one line and exit code 2.

A missing or unreadable file, a bad configuration value or a wrong checkpoint is the user's
problem, not a bug: the tool prints `error: <what is wrong>` on stderr and exits with 2 (as
argparse does for a bad command line), without a traceback. Anything else is a bug and keeps
its traceback. Set SAMEO_TRACEBACK=1 to see the traceback of a user error too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

USAGE_EXIT_CODE = 2
# OSError covers missing, unreadable and unwritable files; ValueError covers bad values, bad
# files (CheckpointError, malformed JSON, reader errors) and invalid configurations.
USER_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError)


def run(main: Callable[[], object]) -> NoReturn:
    """Call `main()` and exit with the int it returns (0 for anything else), or with 2 on a
    user error."""
    try:
        code = main()
    except USER_ERRORS as error:
        if os.environ.get("SAMEO_TRACEBACK"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        sys.exit(USAGE_EXIT_CODE)
    sys.exit(code if isinstance(code, int) else 0)
