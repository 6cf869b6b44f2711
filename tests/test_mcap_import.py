"""ROS 2 MCAP import: real files written with mcap / mcap-ros2-support, then aligned."""

from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from embodex.demo.mcap import COMPRESSED_IMAGE_MSGDEF, IMU_MSGDEF, JOINT_STATE_MSGDEF
from embodex.errors import ConfigError, ImportSourceError
from embodex.format import open_dataset
from embodex.format.importers import import_recordings
from embodex.format.importers.mcap import import_mcap
from embodex_cli.main import cli

from .test_cli_format import run

T0 = 1_800_000_000_000_000_000
JOINTS = ["j0", "j1", "j2"]
SIDECAR = {"licence": "CC-BY-4.0", "provenance": {"centre_id": "lab", "centre_name": "Lab"}}
MAP: dict[str, Any] = {
    "fps": 20,
    "reference": "/joint_states",
    "tolerance_ms": 30,
    "joints": JOINTS,
    "units": "rad",
    "features": {
        "state": {"topic": "/joint_states", "field": "position", "role": "state"},
        "action": {"topic": "/cmd", "field": "position", "role": "action"},
    },
    "cameras": {
        "head": {"topic": "/head/compressed"},
        "depth": {"topic": "/depth/compressed"},
    },
}


def _stamp(ns: int) -> dict[str, int]:
    return {"sec": ns // 10**9, "nanosec": ns % 10**9}


def _png(value: int, depth: bool) -> bytes:
    if depth:
        arr = np.full((6, 8), 1000 + value, dtype=np.uint16)
    else:
        arr = np.full((6, 8, 3), value % 256, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def write_recording(
    path: Path,
    *,
    seconds: float = 1.0,
    camera_gap: tuple[float, float] | None = None,
    imu_hz: float | None = None,
) -> None:
    """Joint states at 100 Hz (position = time since T0 in s, per joint scaled), commands at
    50 Hz with joints in reverse order, a colour and a depth camera at 25 Hz whose pixel
    values count their frames. Log times lag the stamps by 5 ms."""
    from mcap_ros2.writer import Writer

    msgs: list[tuple[int, str, str, dict[str, Any]]] = []
    for i in range(int(seconds * 100)):
        t = T0 + i * 10_000_000 + (1_000_000 if i % 2 else 0)  # 1 ms jitter
        s = (t - T0) / 1e9
        msgs.append((t, "/joint_states", "js", {
            "header": {"stamp": _stamp(t), "frame_id": ""}, "name": JOINTS,
            "position": [s, 2 * s, 3 * s], "velocity": [], "effort": [],
        }))  # fmt: skip
    for i in range(int(seconds * 50)):
        t = T0 + 3_000_000 + i * 20_000_000
        s = (t - T0) / 1e9
        msgs.append((t, "/cmd", "js", {
            "header": {"stamp": _stamp(t), "frame_id": ""}, "name": JOINTS[::-1],
            "position": [-3 * s, -2 * s, -s], "velocity": [], "effort": [],
        }))  # fmt: skip
    for k in range(int(seconds * 25)):
        t = T0 + 2_000_000 + k * 40_000_000
        if camera_gap and camera_gap[0] <= (t - T0) / 1e9 < camera_gap[1]:
            continue
        for topic, depth in (("/head/compressed", False), ("/depth/compressed", True)):
            msgs.append((t, topic, "img", {
                "header": {"stamp": _stamp(t), "frame_id": ""},
                "format": "16UC1; png" if depth else "png", "data": _png(k, depth),
            }))  # fmt: skip
    if imu_hz is not None:  # from 30 ms before the joints start; values count the samples
        zeros = [0.0] * 9
        for i in range(int((seconds + 0.03) * imu_hz)):
            t = T0 - 30_000_000 + round(i * 1e9 / imu_hz)
            msgs.append((t, "/imu", "imu", {
                "header": {"stamp": _stamp(t), "frame_id": "torso"},
                "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0},
                "orientation_covariance": zeros,
                "angular_velocity": {"x": float(i), "y": 0.0, "z": -float(i)},
                "angular_velocity_covariance": zeros,
                "linear_acceleration": {"x": 0.0, "y": 0.0, "z": 9.81},
                "linear_acceleration_covariance": zeros,
            }))  # fmt: skip
    msgs.sort(key=lambda m: m[0])
    with path.open("wb") as f:
        writer = Writer(f)
        schemas = {
            "js": writer.register_msgdef("sensor_msgs/JointState", JOINT_STATE_MSGDEF),
            "img": writer.register_msgdef("sensor_msgs/CompressedImage", COMPRESSED_IMAGE_MSGDEF),
            "imu": writer.register_msgdef("sensor_msgs/Imu", IMU_MSGDEF),
        }
        for t, topic, kind, msg in msgs:
            writer.write_message(topic, schemas[kind], msg, log_time=t + 5_000_000, publish_time=t)
        writer.finish()


def test_alignment_keeps_real_times(tmp_path: Path) -> None:
    bags = tmp_path / "bags"
    bags.mkdir()
    write_recording(bags / "run1.mcap")
    report = import_mcap(bags, tmp_path / "ds", topic_map=MAP, sidecar=SIDECAR)
    assert report.episodes == 1 and not report.skipped
    ds = open_dataset(tmp_path / "ds")
    assert ds.meta.fps == 20 and ds.meta.embodiments[0].joint_names == JOINTS
    assert [(c.name, c.kind, c.encoding) for c in ds.meta.cameras] == [
        ("head", "color", "png"),
        ("depth", "depth", "png16"),
    ]
    ep = ds.episode(0)
    assert ep.episode_id == "lab:mcap-run1" and not ep.meta.timestamps_synthesized
    ts = ep.timestamp_ns
    rel = (ts - T0) / 1e9
    # frames start when every stream has started (cameras at +2 ms, commands at +3 ms)
    # and take the joint-state message nearest each 50 ms grid point: real stamps
    assert abs(ts[0] - (T0 + 3_000_000)) <= 10_000_000
    assert set(np.round(np.diff(ts) / 1e6)) <= {49.0, 50.0, 51.0}
    state = ep.feature("state")
    np.testing.assert_allclose(state, np.stack([rel, 2 * rel, 3 * rel], axis=1), atol=1e-6)
    # commands: nearest sample (50 Hz, ≤ 10 ms away), joints put back in the map's order
    action = ep.feature("action")
    assert np.all(np.abs(action[:, 0] + rel) <= 0.011)
    np.testing.assert_allclose(action[:, 1], 2 * action[:, 0], atol=1e-6)
    # each camera keeps its own capture times, and the image taken then
    for cam in ("head", "depth"):
        cam_ts = ep.image_timestamps_ns(cam)
        assert cam_ts is not None and np.all(np.abs(cam_ts - ts) <= 20_000_000)
        counters = (cam_ts - T0 - 2_000_000) // 40_000_000
        frames = ep.images(cam)
        for i in (0, len(ts) // 2, len(ts) - 1):
            pixel = int(frames[i].reshape(-1)[0])
            assert pixel == (1000 + counters[i] if cam == "depth" else counters[i] % 256)


def test_stream_topic_keeps_its_own_rate(tmp_path: Path) -> None:
    bags = tmp_path / "bags"
    bags.mkdir()
    write_recording(bags / "run1.mcap", imu_hz=200.0)
    tmap = {
        **MAP,
        "streams": {
            "imu": {
                "topic": "/imu",
                "rate_hz": 200,
                "fields": {"gyro": "angular_velocity", "accel": "linear_acceleration",
                           "orientation": "orientation"},
                "units": {"gyro": "rad/s", "accel": "m/s^2"},
            }
        },
    }  # fmt: skip
    report = import_mcap(bags, tmp_path / "ds", topic_map=tmap, sidecar=SIDECAR)
    assert report.episodes == 1
    ds = open_dataset(tmp_path / "ds")
    stream = ds.meta.stream("imu")
    assert stream.rate_hz == 200 and stream.features["gyro"].unit == "rad/s"
    assert stream.features["orientation"].shape == [4]
    ep = ds.episode(0)
    ts, values = ep.stream("imu")
    # every message, at its own time, not resampled to the 20 fps frames
    assert len(ts) == 206 and len(ts) > 8 * ep.frame_count
    np.testing.assert_array_equal(ts, T0 - 30_000_000 + np.arange(206, dtype=np.int64) * 5_000_000)
    np.testing.assert_array_equal(values["gyro"][:, 0], np.arange(206, dtype=np.float32))
    np.testing.assert_array_equal(values["gyro"][:, 2], -np.arange(206, dtype=np.float32))
    np.testing.assert_array_equal(values["orientation"][0], [0, 0, 0, 1])
    # the frames are the same as without the stream: the IMU takes no part in the grid
    plain = import_mcap(bags, tmp_path / "plain", topic_map=MAP, sidecar=SIDECAR)
    assert plain.episodes == 1
    np.testing.assert_array_equal(
        open_dataset(tmp_path / "plain").episode(0).timestamp_ns, ep.timestamp_ns
    )
    bad = {**tmap, "streams": {"imu": {**tmap["streams"]["imu"], "fields": {"g": "angular_speed"}}}}
    with pytest.raises(ImportSourceError, match="no field 'angular_speed'"):
        import_mcap(bags, tmp_path / "bad", topic_map=bad, sidecar=SIDECAR)


def test_log_clock_and_gap(tmp_path: Path) -> None:
    bags = tmp_path / "bags"
    bags.mkdir()
    write_recording(bags / "a.mcap")
    write_recording(bags / "b.mcap", camera_gap=(0.4, 0.6))
    with pytest.raises(ImportSourceError, match=r"/head/compressed has no message within 30 ms"):
        import_mcap(bags, tmp_path / "strict", topic_map=MAP, sidecar=SIDECAR)
    assert not (tmp_path / "strict" / "embodex.json").exists()  # nothing published
    report = import_mcap(
        bags, tmp_path / "ds", topic_map={**MAP, "clock": "log"}, sidecar=SIDECAR, skip_bad=True
    )
    assert report.episodes == 1 and report.skipped[0][0] == "lab:mcap-b"
    ep = open_dataset(tmp_path / "ds").episode(0)
    assert ep.timestamp_ns[0] % 10_000_000 in (5_000_000, 6_000_000)  # log times lag stamps
    assert ep.meta.extra["mcap"]["clock"] == "log"


def test_bad_inputs_give_one_line_errors(tmp_path: Path) -> None:
    bag = tmp_path / "one.mcap"
    write_recording(bag, seconds=0.3)
    with pytest.raises(ConfigError, match="no licence"):
        import_mcap(bag, tmp_path / "x", topic_map=MAP, sidecar={})
    with pytest.raises(ConfigError, match=r"features\.state\.field"):
        bad = {**MAP, "features": {"state": {"topic": "/joint_states", "field": "pos"}}}
        import_mcap(bag, tmp_path / "x", topic_map=bad, sidecar=SIDECAR)
    with pytest.raises(ImportSourceError, match="topic /nope has no messages"):
        cams = {"head": {"topic": "/nope"}}
        import_mcap(bag, tmp_path / "x", topic_map={**MAP, "cameras": cams}, sidecar=SIDECAR)
    with pytest.raises(ImportSourceError, match="joint 'j9' is missing"):
        import_mcap(bag, tmp_path / "x", topic_map={**MAP, "joints": ["j9"]}, sidecar=SIDECAR)
    corrupt = tmp_path / "corrupt.mcap"
    corrupt.write_bytes(bag.read_bytes()[:200])
    with pytest.raises(ImportSourceError, match="cannot read MCAP"):
        import_mcap(corrupt, tmp_path / "x", topic_map=MAP, sidecar=SIDECAR)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImportSourceError, match=r"no \.mcap file"):
        import_mcap(empty, tmp_path / "y", topic_map=MAP, sidecar=SIDECAR)
    assert not (tmp_path / "y").exists()


def test_cli_synth_and_package(tmp_path: Path) -> None:
    runner = CliRunner()
    raw = tmp_path / "raw"
    res = runner.invoke(
        cli, ["synth", str(raw), "--layout", "mcap", "--episodes", "2", "--duration", "1-1"]
    )
    assert res.exit_code == 0, res.output
    assert yaml.safe_load((raw / "topics.yaml").read_text())["fps"] == 30
    res = runner.invoke(
        cli,
        ["package", str(raw), str(tmp_path / "ds"), "--from", "mcap", "--json",
         "--map", str(raw / "topics.yaml"), "--meta", str(raw / "embodex-sidecar.yaml")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["episodes"] == 2
    ds = open_dataset(tmp_path / "ds")
    assert set(ds.meta.features) == {"state", "state.velocity", "action"}
    assert ds.episode(0).meta.scene_type == "supermarket"
    assert ds.verify().ok
    with pytest.raises(ImportSourceError, match=r"2 skipped"):  # same ids: imported before
        import_recordings(
            "mcap", raw, tmp_path / "ds", topic_map=raw / "topics.yaml", append=True, skip_bad=True
        )
    assert len(open_dataset(tmp_path / "ds")) == 2


def test_cli_package_without_the_map_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw"
    synth_mcap_dir = ["synth", str(raw), "--layout", "mcap", "--episodes", "1", "--duration", "1-1"]
    assert run(synth_mcap_dir, capsys)[0] == 0
    code, _, err = run(["package", str(raw), str(tmp_path / "ds"), "--from", "mcap"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "internal error" not in err
    assert "the mcap importer needs topic_map — Pass --map FILE" in err
    code, _, err = run(["package", str(raw), str(tmp_path / "ds"), "--from", "agibot", "--map",
                        str(raw / "topics.yaml")], capsys)  # fmt: skip
    assert code == 1 and "the agibot importer does not take topic_map" in err and "--map" in err
    assert not (tmp_path / "ds").exists()
    with pytest.raises(ConfigError, match="needs topic_map"):
        import_recordings("mcap", raw, tmp_path / "ds")


def test_dropped_grid_points_are_a_repair_qc_reports(tmp_path: Path) -> None:
    from embodex.qc import run_qc

    bags = tmp_path / "bags"
    bags.mkdir()
    write_recording(bags / "run1.mcap")
    # a 150 Hz grid over 100 Hz joint states: some grid points find an already used message
    report = import_mcap(bags, tmp_path / "ds", topic_map={**MAP, "fps": 150}, sidecar=SIDECAR)
    (line,) = [n for n in report.notes if "repaired:" in n]
    assert line.startswith("lab:mcap-run1: repaired: ") and "grid points" in line
    ep = open_dataset(tmp_path / "ds").episode(0)
    (repair,) = ep.meta.extra["import_repairs"]
    assert repair["kind"] == "grid_points_dropped"
    assert 0 <= repair["frame_start"] < repair["frame_end"] <= ep.frame_count
    found = [
        f for f in run_qc(tmp_path / "ds", images="none").findings
        if f.rule == "episode.import_repairs"
    ]  # fmt: skip
    assert [(f.subject, f.frame_start, f.frame_end) for f in found] == [
        ("grid_points_dropped", repair["frame_start"], repair["frame_end"])
    ]


COMPRESSED_VIDEO_MSGDEF = (
    "builtin_interfaces/Time timestamp\nstring frame_id\nuint8[] data\nstring format\n"
    "================================================================================\n"
    "MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n"
)


def _h264_packets(n: int) -> list[bytes]:
    """``n`` frames (a bar moving across a ramp) as H.264 access units, Annex B, no
    B-frames, a key frame every 8 frames: what a robot's recorder publishes."""
    import av

    cc = av.CodecContext.create("libx264", "w")
    cc.width, cc.height, cc.pix_fmt = 64, 48, "yuv420p"
    cc.time_base = Fraction(1, 25)
    cc.options = {"bf": "0", "g": "8", "keyint_min": "8", "sc_threshold": "0"}
    out: list[bytes] = []
    for i in range(n):
        img = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 3, (48, 1, 3))
        img[:, (i * 3) % 64] = 255
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out += [bytes(p) for p in cc.encode(frame)]
    out += [bytes(p) for p in cc.encode(None)]
    return out


def test_compressed_video_becomes_a_video_camera_without_reencoding(tmp_path: Path) -> None:
    import av
    from mcap_ros2.writer import Writer

    packets = _h264_packets(30)
    bags = tmp_path / "bags"
    bags.mkdir()
    # the video starts 100 ms before the joints (its first frames are cut), 25 Hz
    video_t = [T0 - 100_000_000 + k * 40_000_000 for k in range(30)]
    with (bags / "run1.mcap").open("wb") as f:
        writer = Writer(f)
        js = writer.register_msgdef("sensor_msgs/JointState", JOINT_STATE_MSGDEF)
        vid = writer.register_msgdef("foxglove_msgs/CompressedVideo", COMPRESSED_VIDEO_MSGDEF)
        msgs: list[tuple[int, str, Any, dict[str, Any]]] = []
        for i in range(100):
            t = T0 + i * 10_000_000
            msgs.append((t, "/joint_states", js, {
                "header": {"stamp": _stamp(t), "frame_id": ""}, "name": JOINTS,
                "position": [i, 2 * i, 3 * i], "velocity": [], "effort": [],
            }))  # fmt: skip
        for t, data in zip(video_t, packets, strict=True):
            msgs.append((t, "/head/video", vid, {
                "timestamp": _stamp(t), "frame_id": "head", "data": data, "format": "h264",
            }))  # fmt: skip
        for t, topic, schema, msg in sorted(msgs, key=lambda m: (m[0], m[1])):
            writer.write_message(topic, schema, msg, log_time=t, publish_time=t)
        writer.finish()
    tmap = {
        "fps": 25,
        "tolerance_ms": 30,
        "joints": JOINTS,
        "features": {"state": {"topic": "/joint_states", "role": "state"}},
        "cameras": {"head": {"topic": "/head/video"}},
    }
    import_mcap(bags, tmp_path / "ds", topic_map=tmap, sidecar=SIDECAR)
    ds = open_dataset(tmp_path / "ds")
    cam = ds.meta.camera("head")
    assert (cam.storage, cam.encoding, cam.width, cam.height) == ("video", "h264", 64, 48)
    ep = ds.episode(0)
    # one frame per video frame inside the joints' span: frames 3..27 (T0+20 ms .. T0+980 ms)
    first = 3
    want_t = np.asarray(video_t[first : first + ep.frame_count], dtype=np.int64)
    assert ep.frame_count == 25
    np.testing.assert_array_equal(ep.timestamp_ns, want_t)
    np.testing.assert_array_equal(ep.image_timestamps_ns("head"), want_t)
    np.testing.assert_allclose(ep.feature("state")[:, 0], (want_t - T0) / 1e7, atol=0.51)
    # exact frames: what PyAV decodes from the recorder's own bitstream, in order
    cc = av.CodecContext.create("h264", "r")
    decoded = [f.to_ndarray(format="rgb24") for p in packets for f in cc.decode(av.Packet(p))]
    decoded += [f.to_ndarray(format="rgb24") for f in cc.decode(None)]
    frames = ep.images("head")
    for i in (0, 4, 13, 24):
        np.testing.assert_array_equal(frames[i], decoded[first + i])
    # not re-encoded: the stored file holds the recorder's slices, byte for byte, from the
    # key frame the first kept frame decodes from (frame 0) on
    with av.open(str(ep.video_path("head"))) as stored:
        stored_packets = [bytes(p) for p in stored.demux(video=0) if p.size]
    for k in range(1, 12):
        recorded = _slices(_annex_b(packets[k]))
        assert recorded and _slices(_length_prefixed(stored_packets[k])) == recorded
    assert ds.verify().ok


def _annex_b(data: bytes) -> list[bytes]:
    return [
        n for n in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01") if n
    ]


def _length_prefixed(data: bytes) -> list[bytes]:
    out, at = [], 0
    while at + 4 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        out.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return out


def _slices(nals: list[bytes]) -> list[bytes]:
    """Coded slices only (NAL types 1 and 5), the picture data itself."""
    return [n for n in nals if n[0] & 0x1F in (1, 5)]
