"""Subprocess for test_delivery_faults: a pull slowed down per chunk, to be SIGKILLed.

argv: channel URL, contract file, store dir, time (ISO 8601), seconds to sleep per chunk.
Prints "chunk <bytes>" after each chunk written and "done" at the end.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from embodex.delivery import pull
from embodex.trust import load_signer

url, contract, into, when, delay = sys.argv[1:6]


def on_bytes(n: int) -> None:
    print(f"chunk {n}", flush=True)
    time.sleep(float(delay))


pull(url, contract, load_signer("agibot"), into, now=datetime.fromisoformat(when), workers=2,
     on_bytes=on_bytes)  # fmt: skip
print("done", flush=True)
