"""Entity streams (issue 2): accounts, visitors, pages, features, guides, track_types, reports, metadata_fields."""

from __future__ import annotations


def entity_streams(tap):  # noqa: ANN001, ANN201
    return []
