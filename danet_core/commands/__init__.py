"""Subcommand modules of the ``danet`` CLI (one per area; see danet_core.cli)."""
