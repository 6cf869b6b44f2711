"""A scratch folder beside an output where Ray workers leave finished files (issue 14).

A worker writes each file under a temporary name, fsyncs it and renames it into place, so
a worker killed mid-write leaves at most a ``*.partial-<pid>`` file that nothing reads; the
retried task writes the file again. The driver takes a staged file only after checking the
size and sha256 the worker reported, then commits it into the output in source order. The
folder is removed when the job ends (after a killed driver it is left as
``.<name>.<what>-*`` beside the output, never mistaken for one).

Workers and driver must see the folder at the same path: the same machine or a shared file
system (specs/scale.md).

Packaging stages whole episodes, under a stable name a re-run resumes from
(:mod:`.staging`); this area is one job's and is not reused (specs/scale.md, "Not done").
``package --anonymise/--pseudonymise`` keeps its raw import in one too (``.<name>.raw-*``),
removed when the call ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..canonical import sha256_file
from ..errors import ClusterError
from ..fsutil import fsync_dir, fsync_path

__all__ = ["StagedFile", "StagingArea"]


@dataclass(frozen=True)
class StagedFile:
    """A file a worker finished in the staging area: its name there, size and sha256."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class StagingArea:
    """The scratch folder ``root`` (a plain string: it travels to the workers)."""

    root: str

    @classmethod
    def beside(cls, out: str | Path, what: str) -> StagingArea:
        """A new, empty staging folder next to ``out`` (``.<out name>.<what>-XXXX``)."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        return cls(tempfile.mkdtemp(prefix=f".{out.name}.{what}-", dir=out.parent))

    def stage(self, name: str, write: Callable[[Path], object]) -> StagedFile:
        """On a worker: ``write(path)`` the file ``name``, durably and atomically."""
        final = Path(self.root) / name
        partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
        try:
            write(partial)
            fsync_path(partial)
            staged = StagedFile(name, partial.stat().st_size, sha256_file(partial))
            os.replace(partial, final)
            fsync_dir(final.parent)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return staged

    def take(self, staged: StagedFile) -> Path:
        """On the driver: the staged file's path, once its size and sha256 are the ones the
        worker reported (``ClusterError`` otherwise: the staging folder was tampered with or
        is not shared with the workers)."""
        path = Path(self.root) / staged.name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ClusterError(
                f"the Ray worker's staged file {path} is not there",
                hint="The workers must see the output's folder at the same path as the "
                "driver (the same machine or a shared file system).",
            ) from None
        if size != staged.size or sha256_file(path) != staged.sha256:
            raise ClusterError(
                f"the Ray worker's staged file {path} changed after it was written",
                hint="Nothing else may write into the staging folder; run the job again.",
            )
        return path

    def discard(self, staged: StagedFile) -> None:
        """Delete a staged file once committed (bounds the folder to the files in flight)."""
        (Path(self.root) / staged.name).unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the whole folder (the job is over, committed or failed)."""
        shutil.rmtree(self.root, ignore_errors=True)
