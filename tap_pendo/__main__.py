"""`python -m tap_pendo`: the same as the `tap-pendo` command."""

from tap_pendo.tap import TapPendo

TapPendo.cli()
