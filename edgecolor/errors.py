"""One exception type whose message a user can act on; the CLI prints it as one line."""


class EdgecolorError(Exception):
    """A user-facing failure: bad input file, bad model, missing backend, unwritable output."""
