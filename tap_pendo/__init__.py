"""tap-pendo: a Singer tap for Pendo's v1 API, built on the Meltano singer-sdk."""
