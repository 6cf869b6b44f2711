"""Running per-episode work on a Ray cluster (``--ray``, issue 14).

Ray is an optional extra (``pip install embodex[ray]``) and is imported only here, only when a
caller asks for a cluster: without ``ray=...`` nothing in embodex imports it. ``address`` is
``"auto"`` (start a local Ray on this machine, or join the one ``RAY_ADDRESS`` names) or the
address of an existing cluster (``ray://host:10001`` or the GCS ``host:6379``).

:func:`ordered_map` submits one task per work unit and yields the results **in submission
order**, whatever order the workers finish in: the driver commits them through the same
writer and journal as a local run, so a Ray run produces byte-for-byte the dataset a local
run does. Ray retries a task whose worker dies (``max_retries``); the work units here are
pure functions of their inputs, so a retry returns the same result.

:func:`worker_dataset` is the source dataset as a worker of a transcode or an export opens
it: once per worker process, checked against the digest the driver planned on.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ClusterError

if TYPE_CHECKING:
    from .reader import Dataset

T = TypeVar("T")
R = TypeVar("R")

#: How often Ray re-runs a task whose worker process died (SIGKILL, OOM, a lost node).
MAX_RETRIES = 3


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # the extra is not installed
        raise ClusterError(
            f"Ray is not installed: {exc}",
            hint="pip install 'embodex[ray]' (or pass `ray=None` to run in this process).",
        ) from exc
    return ray


def connect(address: str) -> Any:
    """The ``ray`` module, connected to ``address`` (``auto`` or a cluster address).

    Joining keeps an existing connection (a test or a notebook may have called ``ray.init``).
    ``auto`` with no running cluster starts a local one on this machine's cores.
    """
    ray = _ray()
    if ray.is_initialized():
        return ray
    # Ray on one box keeps 127.0.0.1 when told to (see specs/scale.md): never listen outside.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        if address == "auto":
            if os.environ.get("RAY_ADDRESS"):
                ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
            else:
                ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(
            f"cannot join the Ray cluster at {address}: {' '.join(str(exc).split())[:300]}",
            hint="Start it with `ray start --head` and give its address (host:6379 or "
            "ray://host:10001), or pass `ray='auto'` for a local Ray.",
        ) from exc
    return ray


def ordered_map(
    address: str,
    fn: Callable[..., R],
    units: Iterable[T],
    *args: Any,
    window: int | None = None,
    name: str | None = None,
) -> Iterator[R]:
    """``fn(unit, *args)`` for each unit on the cluster, yielded in the order of ``units``.

    At most ``window`` tasks are in flight (default: twice the cluster's CPUs), so a large
    job holds a bounded number of results in the object store. ``args`` are put in the
    object store once and shared by every task. An exception ``fn`` raises reaches the
    caller as the same exception class (Ray re-raises it as an instance of the cause).
    """
    ray = connect(address)
    remote = ray.remote(max_retries=MAX_RETRIES, num_cpus=1)(fn)
    if name:
        remote = remote.options(name=name)
    shared = [ray.put(a) for a in args]
    if window is None:
        window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    pending: deque[Any] = deque()
    it = iter(units)
    try:
        for unit in it:
            pending.append(remote.remote(unit, *shared))
            if len(pending) >= window:
                yield _get(ray, pending.popleft())
        while pending:
            yield _get(ray, pending.popleft())
    finally:
        for ref in pending:  # the caller stopped early (an error): do not leave work running
            ray.cancel(ref, force=True)


def worker_address() -> str:
    """Where this code runs, for progress and failure lines: ``<node ip> pid <pid>`` in a
    Ray worker, ``"local"`` outside one."""
    try:
        import ray
    except ImportError:  # pragma: no cover - only called where Ray runs
        return "local"
    if not ray.is_initialized():
        return "local"
    ip = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
    return f"{ip} pid {os.getpid()}"


#: The source dataset a Ray worker process opened last (transcode, LeRobot export): the
#: tasks of one job reuse it instead of reading and hash-checking its metadata per episode.
_OPEN: dict[tuple[str, str], Dataset] = {}


def worker_dataset(root: str, digest: str) -> Dataset:
    """On a Ray worker: the dataset at ``root``, opened once per process and checked to be
    the one the driver planned the job on (``ClusterError`` otherwise)."""
    from .reader import open_dataset

    key = (root, digest)
    ds = _OPEN.get(key)
    if ds is None:
        ds = open_dataset(root)
        if ds.digest != digest:  # the worker must convert what the driver planned
            raise ClusterError(
                f"{root} on this Ray worker has digest {ds.digest}, the driver opened {digest}",
                hint="The workers must see the same dataset at the same path as the driver.",
            )
        _OPEN.clear()  # one job at a time per worker: do not keep old maps open
        _OPEN[key] = ds
    return ds


def cluster_cpus(address: str) -> int:
    """CPUs the cluster at ``address`` offers (joins it if needed)."""
    return max(1, int(connect(address).cluster_resources().get("CPU", 1)))


def _get(ray: Any, ref: Any) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if getattr(exc, "cause", None) is not None else None
        if cause is not None:
            # Ray names the process in the error's text: "ray::fn() (pid=123, ip=10.0.0.7)".
            # Kept beside the error (its message stays the local run's, word for word); the
            # CLI prints it after the error line.
            found = re.search(r"\(pid=(\d+), ip=([^),\s]+)", str(exc))
            if found:
                with contextlib.suppress(AttributeError, TypeError):
                    cause.ray_worker = f"{found.group(2)} pid {found.group(1)}"
            raise cause from None
        raise
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
        raise ClusterError(
            f"a Ray worker died {MAX_RETRIES + 1} times on one task: {exc}",
            hint="Check the worker nodes' memory and logs (/tmp/ray/session_latest/logs).",
        ) from exc
