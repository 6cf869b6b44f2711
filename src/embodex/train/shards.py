"""Memory-mapped frame shards and where each episode's values lie in them.

A shard is an Arrow IPC file: record batches whose buffers sit in the file uncompressed.
Once the file is mapped, a fixed-size-list column of one batch is a run of values at a
known offset of the mapping, so one typed numpy view of the whole file (per dtype) serves
every batch: frame ``t`` of an episode is ``view[base + t * D : base + (t + 1) * D]``.
Building an episode's *entry* — the base of each column, per record batch it spans —
costs one ``get_batch`` per batch, once per episode and process; an entry is a few ints,
so memory grows with the number of episodes touched, not with frames or bytes.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import CorruptDatasetError

__all__ = ["ImageEntry", "NumericEntry", "ShardTable"]


@dataclass(frozen=True, slots=True)
class NumericEntry:
    """Where one column of one episode lies: frame ``t`` is ``view[base + t]``.

    ``view`` is a ``(rows, width)`` view of the mapped file (a 1-D one for primitive columns
    such as ``timestamp_ns``). An episode spread over several record batches has
    ``firsts`` (the first frame of each piece) and ``pieces`` ((view, base) per piece).
    A single piece also gives ``flat``, the whole mapped file as one 1-D array of the
    column's dtype, with frame ``t`` at elements ``elem + t * width`` onwards (what the
    batched gather addresses, one view per file whatever the alignment of each batch)."""

    view: np.ndarray
    base: int
    firsts: np.ndarray | None = None
    pieces: tuple[tuple[np.ndarray, int], ...] = ()
    flat: np.ndarray | None = None
    elem: int = 0

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The values of the given frames (any order, any pieces, any shape of ``rows``), as a
        new array of shape ``rows.shape + value shape``."""
        if self.firsts is None:
            out: np.ndarray = self.view[self.base + rows]
            return out
        flat = rows.reshape(-1)
        p = np.searchsorted(self.firsts, flat, side="right") - 1
        out = np.empty((len(flat), *self.view.shape[1:]), dtype=self.view.dtype)
        for q in np.unique(p).tolist():
            sel = p == q
            view, base = self.pieces[q]
            out[sel] = view[base + flat[sel] - int(self.firsts[q])]
        return out.reshape(*rows.shape, *self.view.shape[1:])


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """Where one camera column of one episode lies: int32 offsets and the bytes."""

    offsets: np.ndarray  # int32 view
    data: np.ndarray  # uint8 view
    obase: int | np.ndarray
    dbase: int | np.ndarray
    firsts: np.ndarray | None
    valid: np.ndarray | None  # bool per frame; None when no image is missing

    def encoded(self, t: int) -> np.ndarray | None:
        """The encoded bytes of frame ``t`` (a uint8 view), or None for a missing image."""
        if self.valid is not None and not self.valid[t]:
            return None
        if self.firsts is None:
            o = self.obase + t
            d = self.dbase
        else:
            p = bisect_right(self.firsts.tolist(), t) - 1
            o = int(np.asarray(self.obase)[p]) + t - int(self.firsts[p])
            d = int(np.asarray(self.dbase)[p])
        out: np.ndarray = self.data[d + self.offsets[o] : d + self.offsets[o + 1]]
        return out


class ShardTable:
    """One memory-mapped frame shard, opened after checking its size against the manifest."""

    def __init__(self, path: Path, name: str, expected_size: int) -> None:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise CorruptDatasetError(
                f"frame shard {name} is missing ({path})", path=path
            ) from None
        if size != expected_size:
            raise CorruptDatasetError(
                f"frame shard {name} is {size} bytes, the manifest says {expected_size} "
                f"(truncated or replaced: {path})",
                path=path,
            )
        try:
            source = pa.memory_map(str(path))
            self._whole = source.read_buffer(size)  # zero copy: the mapping itself
            source.seek(0)
            self.reader = pa.ipc.open_file(source)
            # batch row counts only: keeping every batch (one per episode) would hold a few
            # KB of Arrow metadata per episode in every worker
            lengths = [
                self.reader.get_batch(b).num_rows for b in range(self.reader.num_record_batches)
            ]
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorruptDatasetError(
                f"frame shard {name} is unreadable ({path}): {exc}", path=path
            ) from exc
        self.name = name
        self.path = path
        self.size = size
        self.starts = [0, *np.cumsum(lengths, dtype=np.int64).tolist()]
        self._views: dict[str, np.ndarray] = {}
        self._table: pa.Table | None = None

    @property
    def table(self) -> pa.Table:
        """The whole shard as a (memory-mapped, zero-copy) table; built on first use."""
        if self._table is None:
            self._table = self.reader.read_all()
        return self._table

    def view(self, dtype: str) -> np.ndarray:
        """The whole mapped file as a 1-D array of ``dtype`` (zero copy)."""
        v = self._views.get(dtype)
        if v is None:
            item = np.dtype(dtype).itemsize
            v = np.frombuffer(self._whole, dtype=dtype, count=self.size // item)
            self._views[dtype] = v
        return v

    def batches(self, row: int, count: int) -> list[tuple[int, int, pa.RecordBatch]]:
        """(first frame, first row in the batch, batch) for each record batch the rows
        ``[row, row + count)`` touch: one for most episodes."""
        if row < 0 or row + count > self.starts[-1]:
            raise CorruptDatasetError(
                f"frame shard {self.name} has {self.starts[-1]} rows, the episode table "
                f"expects rows {row}..{row + count - 1}"
            )
        out = []
        b = bisect_right(self.starts, row) - 1
        done = 0
        while done < count:
            local = row + done - self.starts[b]
            out.append((done, local, self.reader.get_batch(b)))
            done += self.starts[b + 1] - self.starts[b] - local
            b += 1
        return out

    def _column(self, batch: pa.RecordBatch, column: str) -> pa.Array:
        try:
            return batch.column(column)
        except KeyError:
            raise CorruptDatasetError(f"frame shard {self.name} has no column {column!r}") from None

    def _elem(self, buf: pa.Buffer | None, item: int) -> int | None:
        """Element index of ``buf`` in the typed view, or None when it is not in the map."""
        if buf is None:
            return None
        rel = buf.address - self._whole.address
        if rel < 0 or rel + buf.size > self.size or rel % item:
            return None
        return int(rel // item)

    def rows_view(self, dtype: str, width: int, residue: int) -> np.ndarray:
        """The mapped file as ``(rows, width)`` values of ``dtype`` starting at element
        ``residue``: each column piece lies in the view whose residue matches its start."""
        key = f"{dtype}/{width}/{residue}"
        v = self._views.get(key)
        if v is None:
            flat = self.view(dtype)[residue:]
            v = flat[: len(flat) // width * width].reshape(-1, width)
            self._views[key] = v
        return v

    def numeric(
        self, pieces: list[tuple[int, int, pa.RecordBatch]], column: str, dtype: str, width: int
    ) -> NumericEntry:
        """Entry of a fixed-size-list column (``width`` > 0) or a primitive one (0)."""
        item = np.dtype(dtype).itemsize
        located: list[tuple[np.ndarray, int]] = []
        for _, local, batch in pieces:
            arr = self._column(batch, column)
            if width:
                child = arr.values
                elem = self._elem(child.buffers()[1], item)
                start = child.offset + (arr.offset + local) * width
            else:
                elem = self._elem(arr.buffers()[1], item)
                start = arr.offset + local
            if elem is None:
                return self._copied(pieces, column, width)
            e = elem + start
            if width:
                located.append((self.rows_view(dtype, width, e % width), e // width))
            else:
                located.append((self.view(dtype), e))
        if len(located) == 1:
            view, base = located[0]
            flat = self.view(dtype)
            return NumericEntry(view, base, flat=flat, elem=e)
        firsts = np.array([p[0] for p in pieces], dtype=np.int64)
        return NumericEntry(located[0][0], located[0][1], firsts, tuple(located))

    def _copied(
        self, pieces: list[tuple[int, int, pa.RecordBatch]], column: str, width: int
    ) -> NumericEntry:
        # Not reached with files written by embodex (their buffers are mapped in place);
        # kept so that an unexpected layout is slower, never wrong.
        parts = []
        for _, local, batch in pieces:
            arr = self._column(batch, column).slice(local)
            flat = arr.flatten() if width else arr
            parts.append(flat.to_numpy(zero_copy_only=False))
        values = np.concatenate(parts)
        return NumericEntry(values.reshape(-1, width) if width else values, 0, flat=values)

    def image(
        self, pieces: list[tuple[int, int, pa.RecordBatch]], column: str, count: int
    ) -> ImageEntry:
        obases, dbases, valids = [], [], []
        any_missing = False
        for first, local, batch in pieces:
            arr = self._column(batch, column)
            bufs = arr.buffers()
            o = self._elem(bufs[1], 4)
            d = self._elem(bufs[2], 1) if bufs[2] is not None else 0
            if o is None or d is None:
                raise CorruptDatasetError(
                    f"frame shard {self.name}: {column} is not mapped in place"
                )
            obases.append(o + arr.offset + local)
            dbases.append(d)
            take = min(count - first, len(arr) - local)
            if arr.null_count:
                any_missing = True
                valids.append(arr.slice(local, take).is_valid().to_numpy(zero_copy_only=False))
            else:
                valids.append(np.ones(take, dtype=bool))
        valid = np.concatenate(valids) if any_missing else None
        offsets, data = self.view("int32"), self.view("uint8")
        if len(pieces) == 1:
            return ImageEntry(offsets, data, obases[0], dbases[0], None, valid)
        firsts = np.array([p[0] for p in pieces], dtype=np.int64)
        return ImageEntry(offsets, data, np.array(obases), np.array(dbases), firsts, valid)
