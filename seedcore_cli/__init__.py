"""seedcore: the command-line administration tool for SeedCore organisms on Ray."""

__version__ = "0.1.0"
