"""Event streams (issue 3): events, page/feature/track/guide/poll events, visitor_history."""

from __future__ import annotations


def event_streams(tap):  # noqa: ANN001, ANN201
    return []
