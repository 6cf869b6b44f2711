"""The package version, in a module of its own so any layer can name it without importing
the top-level package (which loads the format and training layers)."""

__version__ = "0.1.0"
