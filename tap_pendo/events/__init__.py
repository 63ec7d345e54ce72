"""Event-stream internals: window planning, streamed aggregations, visitor history."""
