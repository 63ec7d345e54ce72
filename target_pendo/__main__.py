"""`python -m target_pendo`: the same as the `target-pendo` command."""

from target_pendo.target import TargetPendo

TargetPendo.cli()
