"""The event streams, side by side: the six windowed aggregations (`streams.py`) and
visitor_history (`visitor_history.py`), with their window planning, streamed aggregations and
row keys.
"""
