"""Error types that map to cabench's exit codes.

0 success, 1 a check failed (regression gate), 2 bad usage or bad input. A user's mistake raises a
:class:`UserError` whose message is printed as one line, without a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


class CabenchError(Exception):
    """Base class of every error cabench raises on purpose."""

    exit_code = EXIT_USAGE


class UserError(CabenchError):
    """Bad input or usage: a missing file, a malformed row, an unknown name. Exit code 2."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)


class DataError(UserError):
    """A dataset on disk does not match its published layout."""


class CheckFailed(CabenchError):
    """A regression gate found a change beyond its tolerance. Exit code 1."""

    exit_code = EXIT_CHECK_FAILED
