"""Subcommands of `hil` (see hil.cli)."""
