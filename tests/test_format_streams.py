"""Format 1.1 streams at their own rate (IMU, force-torque): written beside the frames in
``streams/<name>/``, read back per episode, verified, copied, selected, trimmed by time,
appended."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from embodex.canonical import sha256_file
from embodex.errors import SchemaError, UnsupportedFormatError, VerificationError
from embodex.format import (
    DatasetMeta,
    DatasetWriter,
    Embodiment,
    Episode,
    EpisodeMeta,
    Feature,
    Provenance,
    Stream,
    copy_episodes,
    layout,
    open_dataset,
    trim_episodes,
    verify_dataset,
)
from embodex.format.models import FileEntry, Manifest
from embodex.format.summary import summarize
from embodex.format.writer import dataset_digest

FPS = 10.0
T0 = 1_767_225_600_000_000_000


def _meta() -> DatasetMeta:
    return DatasetMeta(
        name="streams",
        licence="CC-BY-4.0",
        provenance=Provenance(centre_id="c", centre_name="C"),
        embodiments=[Embodiment(model="arm", dof=2, joint_names=["a", "b"], units=["rad", "rad"])],
        features={"state": Feature(shape=[2], role="state")},
        fps=FPS,
        streams=[
            Stream(
                name="ft",
                rate_hz=50.0,
                features={
                    "force": Feature(shape=[3], unit="N"),
                    "torque": Feature(shape=[3], unit="N*m", dtype="float64"),
                },
            )
        ],
    )


def _episode(i: int, n: int = 20, *, stream: bool = True) -> Episode:
    """Frames at 10 Hz; force-torque at 50 Hz from 40 ms before the first frame to the end."""
    t0 = T0 + i * 10**11
    ts = t0 + np.arange(n, dtype=np.int64) * 100_000_000
    st = t0 - 40_000_000 + np.arange(5 * n + 2, dtype=np.int64) * 20_000_000
    m = len(st)
    force = np.arange(m * 3, dtype=np.float32).reshape(m, 3) + 1000 * i
    torque = -np.arange(m * 3, dtype=np.float64).reshape(m, 3)
    return Episode(
        meta=EpisodeMeta(episode_id=f"ep{i}"),
        timestamp_ns=ts,
        features={"state": np.zeros((n, 2), np.float32) + i},
        streams={"ft": (st, {"force": force, "torque": torque})} if stream else {},
    )


def _write(path: Path, count: int = 3, **kw: int) -> None:
    with DatasetWriter(path, _meta(), **kw) as w:  # type: ignore[arg-type]
        for i in range(count):
            w.add_episode(_episode(i))


def test_round_trip_and_manifest(tmp_path: Path) -> None:
    _write(tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds")
    assert ds.meta.stream("ft").rate_hz == 50.0
    paths = {f.path for f in ds.manifest.files}
    assert "streams/ft/shard-000000.arrow" in paths
    for i in range(3):
        want = _episode(i)
        got = ds.episode(f"ep{i}").stream("ft")
        ts, values = got  # unpacks like the writer's input
        np.testing.assert_array_equal(ts, want.streams["ft"][0])
        np.testing.assert_array_equal(values["force"], want.streams["ft"][1]["force"])
        assert values["torque"].dtype == np.float64
        np.testing.assert_array_equal(values["torque"], want.streams["ft"][1]["torque"])
    only = ds.episode(1).stream("ft", ["torque"])
    assert set(only.features) == {"torque"}
    report = verify_dataset(ds)
    assert report.ok and not report.notes
    (summary,) = summarize(ds)["streams"]
    assert summary["name"] == "ft" and summary["samples"] == 3 * 102
    with pytest.raises(SchemaError, match="stream 'imu' is not in dataset"):
        ds.episode(0).stream("imu")


def test_streams_roll_over_with_frame_shards(tmp_path: Path) -> None:
    _write(tmp_path / "ds", count=4, shard_bytes=1)  # a new shard per episode
    ds = open_dataset(tmp_path / "ds")
    shards = sorted(p for p in ds._file_sizes if p.startswith("streams/"))
    assert shards == [layout.stream_shard_name("ft", k) for k in range(4)]
    for i in range(4):
        np.testing.assert_array_equal(
            ds.episode(i).stream("ft").features["force"], _episode(i).streams["ft"][1]["force"]
        )
    assert verify_dataset(ds).ok


def test_episode_without_the_stream_has_no_samples(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path / "ds", _meta()) as w:
        w.add_episode(_episode(0, stream=False))
        w.add_episode(_episode(1))
    ds = open_dataset(tmp_path / "ds")
    empty = ds.episode("ep0").stream("ft")
    assert empty.timestamp_ns.shape == (0,) and empty.features["force"].shape == (0, 3)
    assert len(ds.episode("ep1").stream("ft").timestamp_ns) == 102
    assert verify_dataset(ds).ok


def test_bad_stream_input_is_refused(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path / "ds", _meta()) as w:
        ep = _episode(0)
        st, values = ep.streams["ft"]
        back = st.copy()
        back[5] = back[4]
        with pytest.raises(SchemaError, match="stream 'ft' timestamps go backwards or repeat"):
            w.add_episode(
                Episode(ep.meta, ep.timestamp_ns, ep.features, streams={"ft": (back, values)})
            )
        short = {"force": values["force"][:-1], "torque": values["torque"]}
        with pytest.raises(SchemaError, match="feature 'force' has shape"):
            w.add_episode(
                Episode(ep.meta, ep.timestamp_ns, ep.features, streams={"ft": (st, short)})
            )
        with pytest.raises(SchemaError, match="unknown stream"):
            w.add_episode(Episode(ep.meta, ep.timestamp_ns, ep.features, streams={"imu": (st, {})}))
        w.add_episode(ep)  # the refusals lost nothing
    assert len(open_dataset(tmp_path / "ds")) == 1


def test_copy_select_and_append(tmp_path: Path) -> None:
    _write(tmp_path / "ds")
    src = open_dataset(tmp_path / "ds")
    sub = copy_episodes(src.select(episode_ids=["ep2", "ep0"]), tmp_path / "sub")
    assert sorted(sub.episode_ids) == ["ep0", "ep2"]
    np.testing.assert_array_equal(
        sub.episode("ep2").stream("ft").timestamp_ns, _episode(2).streams["ft"][0]
    )
    with DatasetWriter(tmp_path / "sub", append=True) as w:
        w.add_episode(_episode(7))
    out = open_dataset(tmp_path / "sub")
    assert len(out) == 3 and verify_dataset(out).ok
    np.testing.assert_array_equal(
        out.episode("ep7").stream("ft").features["force"], _episode(7).streams["ft"][1]["force"]
    )
    assert {p for p in out._file_sizes if p.startswith("streams/")} == {
        "streams/ft/shard-000000.arrow",
        "streams/ft/shard-000001.arrow",
    }


def test_trim_cuts_the_stream_by_time(tmp_path: Path) -> None:
    _write(tmp_path / "ds", count=2)
    src = open_dataset(tmp_path / "ds")
    out = trim_episodes(src, tmp_path / "t", {"ep0": (5, 12), "ep1": (3, None)}).dataset
    frames = _episode(0).timestamp_ns
    st = _episode(0).streams["ft"][0]
    got = out.episode("ep0").stream("ft")
    # samples from frame 5's time up to (not including) frame 12's
    want = (st >= frames[5]) & (st < frames[12])
    np.testing.assert_array_equal(got.timestamp_ns, st[want])
    np.testing.assert_array_equal(
        got.features["force"], _episode(0).streams["ft"][1]["force"][want]
    )
    # the end not cut keeps the samples running past the last frame
    st1 = _episode(1).streams["ft"][0]
    frames1 = _episode(1).timestamp_ns
    np.testing.assert_array_equal(
        out.episode("ep1").stream("ft").timestamp_ns, st1[st1 >= frames1[3]]
    )
    assert verify_dataset(out).ok


def test_verify_finds_stream_damage(tmp_path: Path) -> None:
    _write(tmp_path / "ds", count=2)
    rel = "streams/ft/shard-000000.arrow"
    path = tmp_path / "ds" / rel
    # a consistent-looking shard whose samples go backwards: rewrite it with a good manifest
    table = pa.ipc.open_file(pa.BufferReader(path.read_bytes())).read_all()
    ts = table.column("timestamp_ns").to_numpy().copy()
    ts[3], ts[4] = ts[4], ts[3]
    bad = table.set_column(1, table.schema.field(1), pa.array(ts))
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, bad.schema) as w:
        w.write_table(bad)
    _rewrite_manifest(tmp_path / "ds", rel)
    report = verify_dataset(tmp_path / "ds", raise_on_error=False)
    assert any("ep0: stream times are not strictly increasing" in p for p in report.problems), (
        report.problems
    )
    assert report.damaged_episodes == ["ep0"]
    path.write_bytes(b"x")
    with pytest.raises(VerificationError, match="streams/ft/shard-000000.arrow"):
        verify_dataset(tmp_path / "ds")


def _rewrite_manifest(root: Path, rel: str) -> None:
    doc = json.loads((root / "manifest.json").read_text())
    files = [
        FileEntry(path=f["path"], size=(root / rel).stat().st_size, sha256=sha256_file(root / rel))
        if f["path"] == rel
        else FileEntry.model_validate(f)
        for f in doc["files"]
    ]
    manifest = Manifest(files=files, digest=dataset_digest(files))
    (root / "manifest.json").write_text(manifest.model_dump_json())


def test_unfinalized_stream_shards_are_recovered(tmp_path: Path) -> None:
    _write(tmp_path / "ds", count=1)
    w = DatasetWriter(tmp_path / "ds", append=True, shard_bytes=1)
    w.add_episode(_episode(1))  # the shard rolled over: its stream shard is final but unnamed
    w._lock.release()  # a crash: no finalize, no abort
    orphan = tmp_path / "ds" / "streams/ft/shard-000001.arrow"
    assert orphan.exists()
    with DatasetWriter(tmp_path / "ds", append=True) as w2:
        assert w2.num_episodes == 1
    assert not orphan.exists()
    assert verify_dataset(tmp_path / "ds").ok


def test_labelled_1_0_with_streams_is_unsupported(tmp_path: Path) -> None:
    _write(tmp_path / "ds", count=1)
    meta_path = tmp_path / "ds" / "embodex.json"
    doc = json.loads(meta_path.read_text())
    doc["format_version"] = "1.0"
    meta_path.write_text(json.dumps(doc))
    _rewrite_manifest(tmp_path / "ds", "embodex.json")
    with pytest.raises(UnsupportedFormatError, match="streams need format 1.1"):
        open_dataset(tmp_path / "ds")


def test_stream_schema_fingerprint_guards_append(tmp_path: Path) -> None:
    _write(tmp_path / "ds", count=1)
    other = _meta().model_copy(update={"streams": []})
    with pytest.raises(SchemaError, match="differ"):
        DatasetWriter(tmp_path / "ds", other, append=True)


def test_transcode_keeps_the_streams(tmp_path: Path) -> None:
    """Transcoding the cameras copies every stream sample (it once dropped them all)."""
    from embodex.demo.synth import synth_dataset, synth_meta
    from embodex.format import transcode_dataset

    meta = synth_meta(image_size=32, cameras=("head",), imu_hz=200)
    src = synth_dataset(tmp_path / "src", 2, seed=1, meta=meta, duration_s=(1.0, 1.2))
    out = transcode_dataset(src, tmp_path / "video", cameras="video").dataset
    for eid in src.episode_ids:
        a, b = src.episode(eid).stream("imu"), out.episode(eid).stream("imu")
        assert len(a[0]) > 100
        np.testing.assert_array_equal(a[0], b[0])
        for name in a[1]:
            np.testing.assert_array_equal(a[1][name], b[1][name])
