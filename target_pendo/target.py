"""TargetPendo (skeleton; see issue 4)."""

from __future__ import annotations

from singer_sdk import Target


class TargetPendo(Target):
    name = "target-pendo"
    package_name = "pendo-singer"
    default_sink_class = None  # type: ignore[assignment]


if __name__ == "__main__":
    TargetPendo.cli()
