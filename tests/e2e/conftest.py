"""The CLI tests' fixtures (``cli``, ``write_config``) for the e2e flows that also drive
the CLI in-process before a subprocess takes over."""

from tests.cli.conftest import cli, write_config

__all__ = ["cli", "write_config"]
