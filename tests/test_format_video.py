"""Format 1.1 video cameras: remux without re-encoding, exact frames by PTS, key-frame seeks,
copy/select/trim/verify on video, and 1.0 datasets still read."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from embodex.canonical import sha256_file
from embodex.errors import SchemaError, UnsupportedFormatError, VerificationError
from embodex.format import (
    Camera,
    DatasetMeta,
    DatasetWriter,
    Embodiment,
    Episode,
    EpisodeMeta,
    Feature,
    Provenance,
    Segment,
    copy_episodes,
    open_dataset,
    transcode_dataset,
    trim_episodes,
    verify_dataset,
)
from embodex.format.videostore import VideoClip, VideoDecoder, VideoEncoding, probe_index
from embodex_cli.errors import error_line

W, H = 64, 48


def _pictures(n: int, seed: int = 0) -> np.ndarray:
    """Frames that differ from each other (a moving bar over a ramp), so a wrong frame shows."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, H, W, 3), np.uint8)
    out[..., 2] = np.linspace(0, 200, W, dtype=np.uint8)[None, None, :]
    for i in range(n):
        out[i, :, :, 0] = (i * 7) % 256
        out[i, (i * 3) % H, :, 1] = 255
        out[i, :, (i * 5) % W, :] = rng.integers(0, 255, 3, dtype=np.uint8)
    return out


def _record(path: Path, n: int, codec: str = "libx264", gop: int = 8, bframes: bool = True) -> Path:
    """A recorder's MP4: the stream the importer would remux."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream(codec, rate=30)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.gop_size = gop
        if codec == "libx264" and not bframes:
            stream.codec_context.max_b_frames = 0
        for i, rgb in enumerate(_pictures(n)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for pkt in stream.encode(frame):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    return path


def _sequential(path: Path) -> list[np.ndarray]:
    """Every frame as PyAV decodes the file front to back: the reference for identity."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def _meta(encoding: str = "h264") -> DatasetMeta:
    return DatasetMeta(
        name="video",
        licence="CC-BY-4.0",
        provenance=Provenance(centre_id="c1", centre_name="Centre One"),
        embodiments=[Embodiment(model="r", dof=2, joint_names=["a", "b"], units=["rad"] * 2)],
        cameras=[
            Camera(name="head", width=W, height=H, encoding=encoding, storage="video"),
            Camera(name="wrist", width=W, height=H, encoding="jpeg"),
        ],
        features={"state": Feature(shape=[2], role="state")},
        fps=30.0,
    )


def _episode(eid: str, n: int, head: object, t0: int = 1_000_000_000) -> Episode:
    ts = t0 + np.arange(n, dtype=np.int64) * 33_333_333
    return Episode(
        meta=EpisodeMeta(
            episode_id=eid,
            segments=[
                Segment(start_frame=0, end_frame=n, skill="pick", text_en="pick", text_zh="拿")
            ],
        ),
        timestamp_ns=ts,
        features={"state": np.arange(n * 2, dtype=np.float32).reshape(n, 2)},
        images={"head": head, "wrist": _pictures(n, seed=1)},  # type: ignore[dict-item]
        image_timestamps_ns={"head": ts + 1000},
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return _record(tmp_path / "head_color.mp4", 30)


@pytest.fixture
def dataset(tmp_path: Path, source: Path) -> Path:
    out = tmp_path / "ds"
    with DatasetWriter(out, _meta()) as w:
        w.add_episode(_episode("e0", 30, VideoClip(source)))
        w.add_episode(_episode("e1", 20, _pictures(20, seed=3), t0=5_000_000_000))
    return out


def test_remux_keeps_the_bitstream_and_every_frame_is_exact(dataset: Path, source: Path) -> None:
    ds = open_dataset(dataset)
    assert ds.meta.format_version == "1.1"
    ep = ds.episode("e0")
    stored = ep.video_path("head")
    assert stored.parent.name == "head" and stored.suffix == ".mp4"
    # remux: the same packets, so the same bytes of compressed video per frame
    with av.open(str(source)) as a, av.open(str(stored)) as b:
        pa_ = [bytes(p) for p in a.demux(a.streams.video[0]) if p.size]
        pb = [bytes(p) for p in b.demux(b.streams.video[0]) if p.size]
    assert pa_ == pb
    reference = _sequential(source)
    seq = ep.images("head")
    assert len(seq) == 30
    assert all(np.array_equal(x, y) for x, y in zip(list(seq), reference, strict=True))
    # random access, in a shuffled order: each from its key frame, still exact
    order = np.random.default_rng(5).permutation(30)
    fresh = ds.episode("e0").images("head")
    for i in order:
        assert np.array_equal(fresh[int(i)], reference[int(i)]), i
    assert np.array_equal(fresh[-1], reference[-1])
    window = ep.frames(["state"], rows=range(10, 17), cameras=["head"])
    assert window["image.head"].shape == (7, H, W, 3)
    assert all(np.array_equal(window["image.head"][k], reference[10 + k]) for k in range(7))
    assert window["state"].shape == (7, 2) and list(window["frame_index"]) == list(range(10, 17))
    assert ep.image_timestamps_ns("head") is not None
    assert ep.meta.segments[0].text_zh == "拿"


def test_random_frame_decodes_from_its_key_frame(dataset: Path) -> None:
    """A seek decodes at most one GOP: counted as frames the decoder hands out."""
    ep = open_dataset(dataset).episode("e0")
    seq = ep.images("head")
    index = probe_index(ep.video_path("head"))
    assert 1 < index.max_gop <= 8
    key = int(np.flatnonzero(index.decode_pos == index.key_pos[27])[0])  # its key frame
    decoded = 0
    original = VideoDecoder._decode_run

    def counting(self: VideoDecoder):  # type: ignore[no-untyped-def]
        nonlocal decoded
        for frame in original(self):
            decoded += 1
            yield frame

    VideoDecoder._decode_run = counting  # type: ignore[method-assign]
    try:
        seq[27]
    finally:
        VideoDecoder._decode_run = original  # type: ignore[method-assign]
    assert decoded == 27 - key + 1  # from its key frame to it, nothing before


def test_encoded_frames_become_video(dataset: Path) -> None:
    ep = open_dataset(dataset).episode("e1")
    stored = ep.video_path("head")
    index = probe_index(stored)
    assert index.codec == "h264" and index.frames == 20
    reference = _sequential(stored)
    assert all(np.array_equal(a, b) for a, b in zip(ep.images("head"), reference, strict=True))
    # lossy but close to what was given
    err = np.abs(ep.images("head")[5].astype(int) - _pictures(20, seed=3)[5].astype(int)).mean()
    assert err < 12


def test_manifest_covers_videos_and_verify_catches_damage(dataset: Path) -> None:
    ds = open_dataset(dataset)
    videos = [f for f in ds.manifest.files if f.path.startswith("videos/")]
    assert len(videos) == 2
    for f in videos:
        assert sha256_file(dataset / f.path) == f.sha256
    report = verify_dataset(dataset)
    assert report.ok and report.files == len(ds.manifest.files)
    target = dataset / videos[0].path
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="sha256"):
        verify_dataset(dataset)
    report = verify_dataset(dataset, raise_on_error=False)
    owner = next(e.episode_id for e in ds if e.row["video.head"] == videos[0].path)
    assert report.damaged_episodes == [owner]
    assert any(owner in p for p in report.problems)
    (dataset / "videos" / "head" / "episode-000009.mp4").write_bytes(b"stray")
    assert any(
        "episode-000009.mp4: not in the manifest" in n
        for n in verify_dataset(dataset, raise_on_error=False).notes
    )


def test_copy_select_and_trim_keep_video(dataset: Path, source: Path, tmp_path: Path) -> None:
    ds = open_dataset(dataset)
    copied = copy_episodes(ds, tmp_path / "copy", ["e0"])
    src_file = ds.episode("e0").video_path("head")
    dst_file = copied.episode("e0").video_path("head")
    assert src_file.read_bytes() == dst_file.read_bytes()  # whole videos copied byte for byte
    verify_dataset(copied)
    reference = _sequential(source)
    result = trim_episodes(ds, tmp_path / "trim", {"e0": (11, 26)})
    trimmed = result.dataset.episode("e0")
    assert trimmed.frame_count == 15
    frames = list(trimmed.images("head"))
    assert all(np.array_equal(a, b) for a, b in zip(frames, reference[11:26], strict=True))
    assert np.array_equal(trimmed.images("head")[14], reference[25])
    # whole GOPs kept: less than the source, more than the kept frames
    kept = probe_index(trimmed.video_path("head")).frames
    assert 15 <= kept < 30
    verify_dataset(result.dataset)
    # trimming the trimmed episode again still names the right frames
    again = trim_episodes(result.dataset, tmp_path / "trim2", {"e0": (2, 5)}).dataset
    assert all(
        np.array_equal(a, b)
        for a, b in zip(again.episode("e0").images("head"), reference[13:16], strict=True)
    )


def test_video_camera_checks(tmp_path: Path, source: Path) -> None:
    with DatasetWriter(tmp_path / "a", _meta()) as w:
        with pytest.raises(SchemaError, match="has 30 frames, the episode has 31"):
            w.add_episode(_episode("x", 31, VideoClip(source)))
        with pytest.raises(SchemaError, match="stored as video"):
            w.add_episode(_episode("y", 3, [b"jpeg"] * 3))
        w.add_episode(_episode("z", 30, VideoClip(source)))
    ds = open_dataset(tmp_path / "a")
    assert ds.episode_ids == ["z"]
    # the failed episodes left no video behind
    assert sorted(p.name for p in (tmp_path / "a" / "videos" / "head").iterdir()) == [
        "episode-000000.mp4"
    ]
    with DatasetWriter(tmp_path / "b", _meta("h265")) as w2:
        with pytest.raises(SchemaError, match="h264 64x48, the camera is h265"):
            w2.add_episode(_episode("x", 30, VideoClip(source)))
        w2.add_episode(_episode("h", 4, _pictures(4)))
    assert probe_index(open_dataset(tmp_path / "b").episode("h").video_path("head")).codec == "h265"


def test_writer_gop_and_crash_leftovers(tmp_path: Path) -> None:
    out = tmp_path / "g"
    with DatasetWriter(out, _meta(), video_encoding=VideoEncoding(gop=5)) as w:
        w.add_episode(_episode("a", 12, _pictures(12)))
    assert probe_index(open_dataset(out).episode("a").video_path("head")).max_gop <= 5
    # a video no manifest names (a writer killed before its commit) is removed on append
    stray = out / "videos" / "head" / "episode-000007.mp4"
    stray.write_bytes(b"left over")
    (out / "videos" / "head" / "episode-000001.mp4.partial").write_bytes(b"half")
    with DatasetWriter(out, append=True) as w:
        w.add_episode(_episode("b", 4, _pictures(4), t0=9_000_000_000))
    assert sorted(p.name for p in (out / "videos" / "head").iterdir()) == [
        "episode-000000.mp4",
        "episode-000001.mp4",
    ]
    verify_dataset(out)


def test_format_1_0_still_reads_and_refuses_video(tmp_path: Path, dataset: Path) -> None:
    # a 1.0 dataset: frame cameras, segments with one text
    meta = _meta().model_copy(update={"cameras": [_meta().cameras[1]]})
    out = tmp_path / "old"
    with DatasetWriter(out, meta) as w:
        ep = _episode("old", 5, None)
        w.add_episode(
            Episode(ep.meta, ep.timestamp_ns, ep.features, images={"wrist": _pictures(5)})
        )
    _downgrade_to_1_0(out)
    old = open_dataset(out)
    assert old.meta.format_version == "1.0"
    seg = old.episode("old").meta.segments[0]
    assert (seg.text_en, seg.text_zh) == ("", "拿")  # 1.0's one text, CJK → text_zh
    verify_dataset(out)
    # appending upgrades the episode table to 1.1; the old shard stays as it is
    shard = next((out / "data").iterdir())
    before = shard.read_bytes()
    with DatasetWriter(out, append=True) as w:
        ep = _episode("new", 4, None, t0=7_000_000_000)
        w.add_episode(
            Episode(ep.meta, ep.timestamp_ns, ep.features, images={"wrist": _pictures(4)})
        )
    upgraded = open_dataset(out)
    assert upgraded.meta.format_version == "1.1" and shard.read_bytes() == before
    assert upgraded.episode("old").meta.segments[0].text_zh == "拿"
    verify_dataset(out)
    # a dataset labelled 1.0 with a video camera: unsupported, not a schema error
    _relabel(dataset, "1.0")
    with pytest.raises(UnsupportedFormatError, match="video cameras need format 1.1"):
        open_dataset(dataset)


def _relabel(root: Path, version: str) -> None:
    meta = json.loads((root / "embodex.json").read_text())
    meta["format_version"] = version
    _rewrite(root, "embodex.json", json.dumps(meta).encode())


def _rewrite(root: Path, name: str, data: bytes) -> None:
    """Replace a metadata file and fix the manifest (the digest is not checked on open)."""
    (root / name).write_bytes(data)
    manifest = json.loads((root / "manifest.json").read_text())
    for f in manifest["files"]:
        if f["path"] == name:
            f["size"] = len(data)
            f["sha256"] = sha256_file(root / name)
    from embodex.format.models import FileEntry
    from embodex.format.writer import dataset_digest

    manifest["digest"] = dataset_digest(FileEntry(**f) for f in manifest["files"])
    (root / "manifest.json").write_text(json.dumps(manifest))


def _downgrade_to_1_0(root: Path) -> None:
    """Turn a dataset written now into the exact form format 1.0 had."""
    import pyarrow as pa

    from embodex.format.schema import SEGMENT_TYPE_1_0

    _relabel(root, "1.0")
    table = pa.ipc.open_file(pa.memory_map(str(root / "episodes.arrow"))).read_all()
    segs = [
        [
            {
                "start_frame": s["start_frame"],
                "end_frame": s["end_frame"],
                "skill": s["skill"],
                "text": s["text_zh"] or s["text_en"],
            }
            for s in row
        ]
        for row in table.column("segments").to_pylist()
    ]
    i = table.schema.get_field_index("segments")
    table = table.set_column(i, "segments", pa.array(segs, pa.list_(SEGMENT_TYPE_1_0)))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    shutil.rmtree(root / ".embodex" / "commit", ignore_errors=True)
    _rewrite(root, "episodes.arrow", sink.getvalue().to_pybytes())


def test_transcode_builds_the_other_tier_and_records_it(dataset: Path, tmp_path: Path) -> None:
    from embodex.market.provenance import processing_steps

    src = open_dataset(dataset)
    hot = transcode_dataset(src, tmp_path / "hot", cameras="jpeg")
    assert hot.cameras == {"head": "video h264 -> jpeg"}
    ds = hot.dataset
    assert ds.meta.camera("head").storage == "frame" and ds.meta.camera("head").encoding == "jpeg"
    reference = list(src.episode("e0").images("head"))
    jpeg = list(ds.episode("e0").images("head"))
    assert len(jpeg) == 30
    assert (
        max(
            np.abs(a.astype(int) - b.astype(int)).mean()
            for a, b in zip(jpeg, reference, strict=True)
        )
        < 3
    )
    # the frame camera and the features are copied as stored
    assert ds.episode("e0").images("wrist").encoded(3) == src.episode("e0").images("wrist").encoded(
        3
    )
    verify_dataset(ds)
    steps = [s for s in processing_steps(ds) if s.step == "transcode"]
    assert len(steps) == 1 and steps[0].details["source"] == src.digest
    # and back to video, as av1 with short GOPs, for every colour camera
    cold = transcode_dataset(ds, tmp_path / "cold", cameras="video", codec="av1", gop=4)
    assert set(cold.cameras) == {"head", "wrist"}
    index = probe_index(cold.dataset.episode("e1").video_path("wrist"))
    assert index.codec == "av1" and index.max_gop <= 4 and index.frames == 20
    assert len(cold.dataset.meta.extra["transcode"]) == 2
    verify_dataset(cold.dataset)
    # one camera only: the other is copied as stored, byte for byte
    part = transcode_dataset(src, tmp_path / "part", cameras="video", only=["wrist"]).dataset
    assert part.meta.camera("wrist").is_video and part.meta.camera("head").encoding == "h264"
    e0 = part.episode("e0")
    assert e0.video_path("head").read_bytes() == src.episode("e0").video_path("head").read_bytes()
    with pytest.raises(SchemaError, match="camera 'nope'"):
        transcode_dataset(src, tmp_path / "bad", cameras="jpeg", only=["nope"])


def test_cli_transcode_and_package_cameras(dataset: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from embodex.demo.raw import write_agibot_sample
    from embodex_cli.main import cli

    runner = CliRunner()
    res = runner.invoke(
        cli, ["transcode", str(dataset), str(tmp_path / "t"), "--cameras", "jpeg", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["cameras"] == {"head": "video h264 -> jpeg"}
    assert "embodex transcode" in runner.invoke(cli, ["transcode", "--help"]).output
    raw = write_agibot_sample(
        tmp_path / "raw", episodes=2, frames=(12, 14), size=(32, 24), depth=False, codec="libx264"
    )
    for storage in ("video", "jpeg"):
        out = tmp_path / f"pk-{storage}"
        res = runner.invoke(
            cli, ["package", str(raw), str(out), "--from", "agibot", "--cameras", storage]
        )
        assert res.exit_code == 0, res.output
        cams = open_dataset(out).meta.cameras
        assert {c.storage for c in cams} == {"video" if storage == "video" else "frame"}
    # H.264 from the recorder is kept as recorded: the packets are the source's
    ds = open_dataset(tmp_path / "pk-video")
    ep = ds.episode(0)
    assert json.loads(ep.row["extra"])["agibot"]["video"] == {
        c.name: "remux" for c in ds.meta.cameras
    }
    assert ds.meta.extra["agibot"]["video"]["reencode"] == "auto"
    res = runner.invoke(
        cli, ["package", str(raw), str(tmp_path / "x"), "--from", "agibot", "--reencode", "bogus"]
    )
    assert res.exit_code == 2


def test_loader_decodes_video_cameras_exactly(dataset: Path, source: Path) -> None:
    import pickle

    import embodex
    from embodex.errors import LoaderConfigError

    reference = _sequential(source)
    loaded = embodex.load(dataset, features=["state"], cameras=["head", "wrist"], qc="all")
    assert len(loaded) == 50
    order = np.random.default_rng(1).permutation(30)  # e0's samples, shuffled
    for i in order:
        sample = loaded[int(i)]
        assert sample["episode_id"] == "e0"
        assert np.array_equal(sample["image.head"], reference[int(i)]), i
        assert sample["image.wrist"].shape == (H, W, 3)
    e1 = open_dataset(dataset).episode("e1").images("head")
    assert np.array_equal(loaded[30 + 7]["image.head"], e1[7])
    # a worker gets its own decoders after unpickling
    clone = pickle.loads(pickle.dumps(loaded))
    assert np.array_equal(clone[29]["image.head"], reference[29])
    with pytest.raises(LoaderConfigError, match="decode_images=False"):
        embodex.load(dataset, cameras=["head"], decode_images=False, qc="all")
    windowed = embodex.load(
        dataset, features=["state"], cameras=["head"], qc="all",
        delta_timestamps={"image.head": [-1 / 30, 0.0]},
    )  # fmt: skip
    s = windowed[10]
    assert s["image.head"].shape == (2, H, W, 3)
    assert np.array_equal(s["image.head"][0], reference[9])
    assert np.array_equal(s["image.head"][1], reference[10])
    assert np.array_equal(windowed[0]["image.head_is_pad"], [True, False])


def test_qc_image_rules_decode_video_cameras(tmp_path: Path) -> None:
    """The same episodes as JPEG frames and as video: QC's image rules flag the same ones."""
    from embodex.qc import run_qc

    from ._delivery import PROFILE, centre_dataset

    frames = centre_dataset(tmp_path / "frames", 4, defects={1: "frozen_camera", 2: "black_frames"})
    # one GOP per episode (1-2 s): frames compared across a key frame differ by the
    # encoder's quantisation noise, which can pass images.frozen's 0.2-grey threshold
    video = transcode_dataset(frames, tmp_path / "video", cameras="video", gop=60).dataset
    for mode in ("sample", "all"):
        got = {}
        for name, ds in (("frames", frames), ("video", video)):
            result = run_qc(ds, PROFILE, images=mode)  # type: ignore[arg-type]
            got[name] = sorted(
                (f.episode_id, f.rule) for f in result.findings if f.rule.startswith("images.")
            )
        assert got["video"] == got["frames"], mode
        rules = {rule for _, rule in got["video"]}
        assert {"images.frozen", "images.black"} <= rules
    # a damaged video: its frames are reported as not decoding, not skipped
    ep = video.episode(0)
    path = ep.video_path(ep.cameras[0].name)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    result = run_qc(open_dataset(video.root), PROFILE)
    assert any(
        f.rule == "images.decodable" and f.episode_id == ep.episode_id for f in result.findings
    )


def test_lerobot_export_copies_the_bitstream_and_lerobot_reads_it(
    dataset: Path, tmp_path: Path
) -> None:
    from embodex.format.exporters.lerobot import export_lerobot

    from ._lerobot import lerobot_python, load_with_lerobot

    ds = open_dataset(dataset)
    out = tmp_path / "lr"
    report = export_lerobot(ds, out, video=True, video_codec="h264")
    assert "2 episode videos copied as recorded (no re-encoding)" in report.notes
    files = sorted((out / "videos" / "observation.images.head").rglob("*.mp4"))
    assert len(files) == 2  # a file per episode, each the stored video's packets
    for ep, f in zip(ds, files, strict=True):
        assert f.read_bytes() == ep.video_path("head").read_bytes()
    lerobot_python()  # LeRobot's own loader, when its venv is there (else skips, saying why)
    data, meta = load_with_lerobot(out, tmp_path / "loaded.npz", "--pyav-decoder")
    assert meta["len"] == ds.num_frames
    ours = np.concatenate([np.stack(list(ep.images("head"))) for ep in ds]).astype(int)
    theirs = data["observation.images.head"].astype(int)
    assert theirs.shape == ours.shape
    assert np.abs(theirs - ours).mean() < 1.0  # the same decoded frames, not a re-encode


def test_rerun_view_logs_video_as_video(dataset: Path, tmp_path: Path) -> None:
    from embodex.format.exporters.rerun import export_rerun, rrd_entities

    ds = open_dataset(dataset)
    out = tmp_path / "e0.rrd"
    export_rerun(ds, "e0", out)
    entities = rrd_entities(out)
    assert entities["/cameras/head"] == 30 + 1  # a frame reference per frame + the asset
    assert entities["/cameras/wrist"] == 30  # JPEG frames as stored
    # the video itself is in the recording, not re-encoded frames: about its size
    assert out.stat().st_size > ds.episode("e0").video_path("head").stat().st_size


@pytest.mark.parametrize("video", [False, True])
def test_lerobot_round_trip_of_a_video_dataset(dataset: Path, tmp_path: Path, video: bool) -> None:
    from embodex.format.exporters.lerobot import export_lerobot
    from embodex.format.importers.lerobot import import_lerobot

    ds = open_dataset(dataset)
    export_lerobot(ds, tmp_path / "lr", video=video, video_codec="h264")
    import_lerobot(tmp_path / "lr", tmp_path / "back")
    back = open_dataset(tmp_path / "back")
    head = back.meta.camera("head")
    # as images: JPEG frames; as video: a video camera again, the packets copied both ways
    assert (head.storage, head.encoding) == (("video", "h264") if video else ("frame", "jpeg"))
    for a, b in zip(ds, back, strict=True):
        assert a.meta == b.meta
        ours = np.stack(list(a.images("head"))).astype(int)
        theirs = np.stack(list(b.images("head"))).astype(int)
        if video:
            assert np.array_equal(ours, theirs)
        else:
            assert np.abs(ours - theirs).mean() < 3  # JPEG of the same frames


def test_appending_to_a_jpeg_import_names_the_camera_storage(tmp_path: Path) -> None:
    from embodex.demo.raw import write_agibot_sample
    from embodex.format.importers import VideoPolicy, import_agibot

    raw = write_agibot_sample(tmp_path / "raw", episodes=1, frames=(8, 9), depth=False)
    more = write_agibot_sample(
        tmp_path / "raw2", episodes=1, frames=(8, 9), depth=False, first_episode_id=7
    )
    out = tmp_path / "ds"
    import_agibot(raw, out, video=VideoPolicy(cameras="jpeg"))
    with pytest.raises(SchemaError, match="stores its cameras as jpeg") as exc:
        import_agibot(more, out, append=True)
    assert "video=VideoPolicy(cameras='jpeg')" in exc.value.hint
    assert "Append with --cameras jpeg" in error_line(exc.value)  # the CLI's words
    import_agibot(more, out, append=True, video=VideoPolicy(cameras="jpeg"))
    assert len(open_dataset(out)) == 2


def test_verify_checks_the_rows_against_the_videos(dataset: Path) -> None:
    """Two episodes' videos swapped, the manifest rewritten to match: every hash checks out,
    but e0's rows name 30 frames the 20-frame video does not hold."""
    ds = open_dataset(dataset)
    a, b = ds.episode("e0").video_path("head"), ds.episode("e1").video_path("head")
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    manifest = json.loads((dataset / "manifest.json").read_text())
    for f in manifest["files"]:
        if f["path"].startswith("videos/"):
            f["size"] = (dataset / f["path"]).stat().st_size
            f["sha256"] = sha256_file(dataset / f["path"])
    from embodex.format.models import FileEntry
    from embodex.format.writer import dataset_digest

    manifest["digest"] = dataset_digest(FileEntry(**f) for f in manifest["files"])
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    report = verify_dataset(dataset, raise_on_error=False)
    assert not any("sha256" in p for p in report.problems)
    assert any(
        re.search(r"frames? episode e0 names (is|are) not in the video", p) for p in report.problems
    ), report.problems
    assert "e0" in report.damaged_episodes
    assert verify_dataset(dataset, hashes=False, raise_on_error=False).ok  # sizes only
