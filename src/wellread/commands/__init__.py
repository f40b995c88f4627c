"""CLI commands, one module each (see wellread.cli)."""
