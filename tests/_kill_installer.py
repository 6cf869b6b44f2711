"""Subprocess for test_delivery_crash: a pull that SIGKILLs itself at one point of installing.

argv: channel URL, contract file, store dir, time (ISO 8601), the point to die at:

* ``qc`` — just before the buyer's QC manifest is rebuilt (episodes already appended, or a
  revocation's marks already committed, in the new generation);
* ``switch`` — just before ``DIR/dataset`` is switched to the new generation;
* ``switched`` — just after the switch, before the pull records that it installed.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from typing import Any

from embodex.delivery import generations, install, pull
from embodex.trust import load_signer

url, contract, into, when, point = sys.argv[1:6]


def die() -> None:
    print("dying", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


real_combine, real_switch = install.combine_qc, generations._switch


def combine(*args: Any, **kwargs: Any) -> Any:
    if point == "qc":
        die()
    return real_combine(*args, **kwargs)


def switch(*args: Any, **kwargs: Any) -> None:
    if point == "switch":
        die()
    real_switch(*args, **kwargs)
    if point == "switched":
        die()


install.combine_qc = combine  # type: ignore[assignment]
generations._switch = switch  # type: ignore[assignment]
pull(url, contract, load_signer("agibot"), into, now=datetime.fromisoformat(when))
print("done", flush=True)
