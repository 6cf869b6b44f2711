"""Subprocess for test_delivery_readonly: a pull that SIGKILLs itself just after its attempt
to post a batch's receipt, before the state records that the batch is done.

argv: channel URL, contract file, store dir, time (ISO 8601). Prints "dying" before it dies.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from datetime import datetime
from typing import Any

from embodex.trust import load_signer

# the package re-exports the function `pull`, which hides the module of the same name
pull_module = importlib.import_module("embodex.delivery.pull")
url, contract, into, when = sys.argv[1:5]
real = pull_module._Puller._send_receipt


def send_then_die(self: Any, *args: Any, **kwargs: Any) -> None:
    real(self, *args, **kwargs)
    print("dying", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


pull_module._Puller._send_receipt = send_then_die  # type: ignore[method-assign]
pull_module.pull(url, contract, load_signer("agibot"), into, now=datetime.fromisoformat(when))
print("done", flush=True)
