"""The project's error type: bad input is reported, never a traceback."""


class DefdipError(Exception):
    """A failure the command line reports in one line; ``exit_code`` is its status."""

    exit_code = 1


class InputError(DefdipError, ValueError):
    """Bad input from a user's file or command line (exit status 2).

    Messages name the file, the key and what is allowed.
    """

    exit_code = 2


class Unsupported(InputError):
    """A model uses something an engine does not implement; the message names it and what runs it."""
