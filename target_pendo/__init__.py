"""target-pendo: writes Singer records back to Pendo as metadata and track events."""
