"""Subcommands of the `audit-sdk` command, one module each."""
