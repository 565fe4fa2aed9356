"""The base of mmsola's user errors.

:class:`UserError` marks input a tool cannot work with (an argument, a file, a config, a
checkpoint); its message says what was wrong and how to fix it. The tools print such an error
as one ``<tool>.py: error: <message>`` line and exit with status 2 (:mod:`mmsola.cli`); any
other exception is a bug and keeps its traceback.

mmsola's error types derive from it and, for callers that catch the builtin kinds, from the
builtin they always were (``ConfigError(UserError, ValueError)``,
``DatasetNotFoundError(UserError, FileNotFoundError)``, ...). Nothing is imported here, so
every module of mmsola can use it.
"""


class UserError(Exception):
    """Input a tool cannot work with; the message says what was wrong and how to fix it."""


class ArgumentError(UserError, ValueError):
    """An argument that cannot work (a value out of range, a combination that cannot be
    measured); the message names it and what would work."""


class InputNotFoundError(UserError, FileNotFoundError):
    """A file or folder the user named (or a step before must make) is not there; the message
    names it and how to make it."""


class OutputExistsError(UserError, FileExistsError):
    """Something is already where a tool would write, and it will not overwrite it; the message
    says how to replace it or where else to write."""
