"""Start-up cost of the command line, as a ratio against a bare interpreter in the same run.

* ``embodex --version`` and ``embodex --help`` (as ``python -m embodex``, so the console-script
  shim's own cost is not counted) vs ``python -c pass``;
* which heavy modules each one loaded (none is the goal: no pyarrow, numpy, pydantic, torch,
  boto3, av, rich at start-up).

Issue 16's target: ``embodex --version`` within 3x of ``python -c pass`` on a quiet machine.
The median of ``--runs`` runs each, interleaved so that load on a shared machine hits all
three alike.

Usage: python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HEAVY = ("pyarrow", "numpy", "pydantic", "torch", "boto3", "botocore", "av", "rich", "yaml")

_PROBE = (
    "import sys\n"
    "from embodex_cli.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "finally:\n"
    f"    heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
    "    print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
)


def _time(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def heavy_modules(*cli_args: str) -> list[str]:
    """The heavy top-level modules ``embodex CLI_ARGS`` imports."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *cli_args], capture_output=True, text=True, check=True
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("HEAVY="))
    return [m for m in line.removeprefix("HEAVY=").split(",") if m]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    py = sys.executable
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "embodex --version": [py, "-m", "embodex", "--version"],
        "embodex --help": [py, "-m", "embodex", "--help"],
    }
    for cmd in cases.values():  # warm the file cache and .pyc files once
        _time(cmd)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, cmd in cases.items():
            times[name].append(_time(cmd))
    med = {name: statistics.median(t) for name, t in times.items()}
    base = med["python -c pass"]
    result = {
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "ratio_version": round(med["embodex --version"] / base, 2),
        "ratio_help": round(med["embodex --help"] / base, 2),
        "heavy_at_version": heavy_modules("--version"),
        "heavy_at_help": heavy_modules("--help"),
    }
    for name, value in med.items():
        print(f"{name:<20} {value * 1000:8.1f} ms (median of {args.runs})")
    print(f"embodex --version is {result['ratio_version']}x python -c pass (target within 3x)")
    print(f"embodex --help    is {result['ratio_help']}x python -c pass")
    print(f"heavy modules at start-up: {result['heavy_at_version'] or 'none'}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
