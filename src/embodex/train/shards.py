"""Zero-copy numpy views of one episode's columns in a memory-mapped frame shard.

A shard is an Arrow IPC file of record batches; an episode's rows are contiguous and lie in
one batch, or (when its images exceed the writer's batch size) in a few consecutive ones.
For the one-batch case a numeric feature is a ``(frames, D)`` view straight into the
memory map and an image column is its offsets and data buffers, so reading a window is one
numpy slice and reading an image is one slice of bytes. Episodes spread over several
batches get their numeric columns concatenated (a copy of that episode only, a few hundred
KB) and their image pieces kept side by side.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import CorruptDatasetError

__all__ = ["ImageColumn", "ShardTable"]


class ShardTable:
    """One memory-mapped frame shard, opened after checking its size against the manifest."""

    def __init__(self, path: Path, name: str, expected_size: int) -> None:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise CorruptDatasetError(f"frame shard {name} is missing ({path})") from None
        if size != expected_size:
            raise CorruptDatasetError(
                f"frame shard {name} is {size} bytes, the manifest says {expected_size} "
                f"(truncated or replaced: {path})"
            )
        try:
            self.table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorruptDatasetError(f"frame shard {name} is unreadable ({path}): {exc}") from exc
        self.name = name
        self.path = path
        lengths = [len(c) for c in self.table.column(0).chunks]
        self.starts = [0, *np.cumsum(lengths).tolist()]

    def _pieces(self, column: str, row: int, count: int) -> list[tuple[int, pa.Array]]:
        """(first frame, array slice) for each batch the rows ``[row, row+count)`` touch."""
        try:
            chunks = self.table.column(column).chunks
        except KeyError:
            raise CorruptDatasetError(f"frame shard {self.name} has no column {column!r}") from None
        if row < 0 or row + count > self.starts[-1]:
            raise CorruptDatasetError(
                f"frame shard {self.name} has {self.starts[-1]} rows, the episode table "
                f"expects rows {row}..{row + count - 1}"
            )
        out: list[tuple[int, pa.Array]] = []
        b = bisect_right(self.starts, row) - 1
        done = 0
        while done < count:
            local = row + done - self.starts[b]
            take = min(count - done, self.starts[b + 1] - self.starts[b] - local)
            out.append((done, chunks[b].slice(local, take)))
            done += take
            b += 1
        return out

    def numeric(self, column: str, row: int, count: int, width: int) -> np.ndarray:
        """``(count, width)`` values of a fixed-size-list column (a view when in one batch)."""
        pieces = self._pieces(column, row, count)
        views = [_fixed_list_view(arr, width) for _, arr in pieces]
        return views[0] if len(views) == 1 else np.concatenate(views)

    def scalars(self, column: str, row: int, count: int) -> np.ndarray:
        """``(count,)`` values of a primitive column such as ``timestamp_ns``."""
        pieces = self._pieces(column, row, count)
        views = [arr.to_numpy(zero_copy_only=False) for _, arr in pieces]
        return views[0] if len(views) == 1 else np.concatenate(views)

    def images(self, column: str, row: int, count: int) -> ImageColumn:
        return ImageColumn([_binary_piece(lo, arr) for lo, arr in self._pieces(column, row, count)])


def _fixed_list_view(arr: pa.Array, width: int) -> np.ndarray:
    flat = arr.flatten()  # honours the slice offset; zero copy
    values: np.ndarray = flat.to_numpy(zero_copy_only=True)
    return values.reshape(len(arr), width)


@dataclass(frozen=True)
class _BinaryPiece:
    first: int  # frame index (within the episode) of this piece's row 0
    offsets: np.ndarray  # int32, len rows + 1
    data: np.ndarray  # uint8 view of the values buffer
    valid: np.ndarray | None  # bool per row; None when no nulls


def _binary_piece(first: int, arr: pa.Array) -> _BinaryPiece:
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    valid = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else None
    return _BinaryPiece(first, offsets, data, valid)


class ImageColumn:
    """One camera's encoded frames for one episode; ``encoded(t)`` slices the mapped bytes."""

    def __init__(self, pieces: list[_BinaryPiece]) -> None:
        self._pieces = pieces
        self._firsts = [p.first for p in pieces]
        #: the only piece when the episode lies in one record batch (the usual case)
        self.single: _BinaryPiece | None = pieces[0] if len(pieces) == 1 else None

    def encoded(self, t: int) -> np.ndarray | None:
        """The encoded bytes of frame ``t`` as a uint8 view, or None for a missing image."""
        p = self.single or self._pieces[bisect_right(self._firsts, t) - 1]
        k = t - p.first
        if p.valid is not None and not p.valid[k]:
            return None
        out: np.ndarray = p.data[p.offsets[k] : p.offsets[k + 1]]
        return out
