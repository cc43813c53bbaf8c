"""One exception type for user errors.

The CLI turns an :class:`EdgeferError` into one red line and exit code 2; anything else is a bug and
keeps its traceback (shown with ``--debug``). Library code raises this for bad input it can name:
a missing file, an unreadable clip, a wrong shape.
"""


class EdgeferError(Exception):
    """A problem with the user's input or environment, explained in one line."""
