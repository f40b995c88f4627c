"""Errors wellread raises for bad input: each message names the file, field or key that was wrong.

The CLI prints these without a traceback; anything else is a bug in wellread.
"""


class WellreadError(Exception):
    """Base class for every error caused by the user's input rather than by wellread itself."""


class ConfigError(WellreadError):
    """A model config is missing, unreadable or inconsistent."""


class CheckpointError(WellreadError):
    """A checkpoint folder or weight file cannot be loaded into the model its config describes."""


class TokenizerError(WellreadError):
    """A vocabulary or tokenizer file is missing, empty or inconsistent with the model."""


class DataError(WellreadError):
    """An input data file is malformed (the message names file and line)."""
