"""What every sub-command shares: its one-line refusals and how it finds its settings."""

from __future__ import annotations

import argparse

from charmelio.settings import ConfigurationError, Settings, load_settings, stack_env_path


class CommandError(RuntimeError):
    """A refusal the user can act on: printed as one line, exit status 1."""


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(data_dir=args.data_dir)


def stack_client_settings(args: argparse.Namespace) -> Settings:
    """Settings of a command that talks to a running stack: a clear word when there is none."""
    settings = settings_of(args)
    if settings.database_url is None and not stack_env_path(args.data_dir).exists():
        where = stack_env_path(args.data_dir).parent
        raise ConfigurationError(
            f"no running stack found in {where}: start one with `charmelio dev` (from another"
            " directory, pass --data-dir DIR or set CHARMELIO_DATA_DIR to its data directory),"
            " or set CHARMELIO_DATABASE_URL and CHARMELIO_TEMPORAL_ADDRESS for a deployment"
        )
    return settings
