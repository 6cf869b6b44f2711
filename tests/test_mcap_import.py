"""ROS 2 MCAP import: real files written with mcap / mcap-ros2-support, then aligned."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from embodex.demo.mcap import COMPRESSED_IMAGE_MSGDEF, JOINT_STATE_MSGDEF
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
    path: Path, *, seconds: float = 1.0, camera_gap: tuple[float, float] | None = None
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
    msgs.sort(key=lambda m: m[0])
    with path.open("wb") as f:
        writer = Writer(f)
        schemas = {
            "js": writer.register_msgdef("sensor_msgs/JointState", JOINT_STATE_MSGDEF),
            "img": writer.register_msgdef("sensor_msgs/CompressedImage", COMPRESSED_IMAGE_MSGDEF),
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
