"""The exit status of every tool's ``main``.

A tool's ``main(argv) -> int`` parses its arguments and hands its work to :func:`run_tool`:

* success: exit status 0 (or the status the work returns);
* an mmsola user error (:class:`~mmsola.errors.UserError` and the types derived from it:
  ``ConfigError``, ``CheckpointError``, ``DatasetNotFoundError``, ``LauncherError``,
  ``OutputPathError``, ...; the message says what to fix), or an error of the data met while a
  run runs that :func:`~mmsola.checks.run_errors.run_error_message` recognises (a damaged
  image, an empty annotation file): one line ``<tool>.py: error: <message>`` on stderr, the
  argparse prefix, and exit status 2, as argparse gives for a bad argument;
* anything else (a ``ValueError`` of a bug too) keeps its traceback.

Library code raises a :class:`~mmsola.errors.UserError`, never ``SystemExit``.
"""
import sys
from typing import Callable, Optional, Tuple, Type

from mmsola.errors import UserError

USER_ERROR_STATUS = 2


def error_line(prog: str, message: object) -> str:
    """``'<prog>: error: <message>'``, the prefix of argparse's errors."""
    return f'{prog}: error: {message}'


def run_tool(prog: str, work: Callable[[], Optional[int]],
             user_errors: Tuple[Type[BaseException], ...] = (UserError, )) -> int:
    """Run a tool's ``work`` and turn its outcome into an exit status (module docstring).

    Args:
        prog: the tool's file name, e.g. ``'train.py'``.
        work: does everything after argument parsing; an int it returns is the exit
            status, anything else (None, a result) means 0.
        user_errors: the exception types reported as one line with status 2; mmsola's
            :class:`~mmsola.errors.UserError` unless a tool names more.
    """
    from mmsola.checks.run_errors import run_error_message
    try:
        status = work()
    except user_errors as err:
        print(error_line(prog, err), file=sys.stderr)
        return USER_ERROR_STATUS
    except Exception as err:  # noqa: BLE001  (only the known data errors are caught)
        message = run_error_message(err)
        if message is None:
            raise
        print(error_line(prog, message), file=sys.stderr)
        return USER_ERROR_STATUS
    return status if isinstance(status, int) else 0
