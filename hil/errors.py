"""Typed errors of the host tool. The CLI turns any HilError into a one-line message and a
non-zero exit status; anything else is a bug."""


class HilError(Exception):
    """Base of every error the host tool reports to a user."""

    exit_status = 2


class ConfigError(HilError):
    """A limiter/DSP configuration is malformed or out of range (the key is named)."""


class InputError(HilError):
    """An input file (alert stream, DSP results, recorded log) cannot be read at all."""
