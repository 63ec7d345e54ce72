"""The signal that ends a run: raised wherever it becomes clear that nothing more can be written."""


class TargetAbort(Exception):
    """Stop the run: nothing more can be written (credentials, configuration)."""
