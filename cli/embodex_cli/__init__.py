"""The ``embodex`` command line: thin commands over the embodex SDK."""
