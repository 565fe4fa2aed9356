"""One shape for every tool's command line.

A tool's ``main(argv) -> int`` parses its arguments and hands its work to :func:`run_tool`:

* success: exit status 0 (or the status the work returns);
* a user error (:data:`USER_ERRORS`: input the tool cannot work with; the message says what
  to fix) or an error of the data or the loss met while a run runs (:func:`run_error_message`):
  one line ``<tool>.py: error: <message>`` on stderr, the argparse prefix, and exit status 2,
  as argparse gives for a bad argument;
* anything else keeps its traceback.

Library code raises :class:`UserError` (or one of the ValueError-based errors of mmsola:
``ConfigError``, ``CheckpointError``, ``OutputPathError``, ``ImageFileError``, ...), never
``SystemExit``.
"""
import sys
from typing import Callable, Optional, Tuple, Type

from .launcher import LauncherError
from .run_errors import run_error_message

USER_ERROR_STATUS = 2


class UserError(ValueError):
    """Input a tool cannot work with (an argument, a file, a config); the message says what
    was wrong and how to fix it."""


# ValueError: UserError and mmsola's ConfigError, CheckpointError, OutputPathError, ...;
# FileNotFoundError: DatasetNotFoundError, a missing image folder.
USER_ERRORS: Tuple[Type[BaseException], ...] = (ValueError, FileNotFoundError, LauncherError)


def error_line(prog: str, message: object) -> str:
    """``'<prog>: error: <message>'``, the prefix of argparse's errors."""
    return f'{prog}: error: {message}'


def run_tool(prog: str, work: Callable[[], Optional[int]],
             user_errors: Tuple[Type[BaseException], ...] = USER_ERRORS) -> int:
    """Run a tool's ``work`` and turn its outcome into an exit status (module docstring).

    Args:
        prog: the tool's file name, e.g. ``'train.py'``.
        work: does everything after argument parsing; an int it returns is the exit
            status, anything else (None, a result) means 0.
        user_errors: the exception types reported as user errors (status 2, no traceback).
            Tools that run a training loop pass their own narrower tuple, so that a
            ValueError of a bug keeps its traceback.
    """
    try:
        status = work()
    except user_errors as err:
        print(error_line(prog, err), file=sys.stderr)
        return USER_ERROR_STATUS
    except Exception as err:  # noqa: BLE001  (only the known data and loss errors are caught)
        message = run_error_message(err)
        if message is None:
            raise
        print(error_line(prog, message), file=sys.stderr)
        return USER_ERROR_STATUS
    return status if isinstance(status, int) else 0
