"""Errors about the user's data or configuration, shown as a message instead of a traceback."""


class DataError(Exception):
    """Bad or missing input data; the message names the path (file, line) and the fix."""
