"""Exit codes and the error a user's own mistake raises (shared by cli and commands)."""

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in what the user asked for: exit 2."""
