"""``python -m embodex``: the ``embodex`` command, for environments without the script on PATH.

The one module of the SDK that imports the CLI: it is a launcher, not a library module, and
imports ``embodex_cli`` only when run (tests/test_layers.py allows this edge and no other).
"""

from __future__ import annotations


def run() -> None:
    from embodex_cli.main import main

    main()


if __name__ == "__main__":
    run()
