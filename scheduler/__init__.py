"""The mediawatch CLI, configuration, logging and the long-running daemon."""
