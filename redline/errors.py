"""The one error family that reaches the user.

    RedlineError            any mistake the user can fix; the CLI prints its message, exits 2
     ├── NotFound           an id or prefix that matches nothing (or too much)
     └── StoreLocked        another process holds the database longer than we wait

A message says what happened and what to do about it.
"""


class RedlineError(Exception):
    """A user-facing error: its message is printed as one line and the CLI exits with 2."""


class NotFound(RedlineError):
    pass


class StoreLocked(RedlineError):
    pass
