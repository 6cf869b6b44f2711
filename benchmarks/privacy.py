"""Face anonymisation speed and accuracy (specs/privacy.md §5).

Prints, on one core at 640×480: JPEG decode alone (the baseline every anonymisation pays),
detection + blur + re-encode of frames with a face, detection only of clean frames (the
common case: no re-encode); recall on the bundled test faces; the share of clean frames
changed (false positives). Ratios are against JPEG decode measured in the same run.
For a video camera (H.264, key frames every 30): writing an episode whose face shows in one
GOP by splicing that GOP re-encoded (the rest copied) against re-encoding the whole clip,
both measured here (detection, the same for both, left out).

Usage: python benchmarks/privacy.py [--frames 40] [--threshold 0.4] [--video-frames 150]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from embodex.demo.faces import box_iou, face_scenes, shop_background
from embodex.format.faces import FaceDetector, expand_boxes, fill_gaps, mask_faces
from embodex.format.images import decode_image, encode_image
from embodex.format.videosplice import reencode_gops
from embodex.format.videostore import VideoClip, encode_frames


def _rate(fn, items: list) -> float:  # type: ignore[no-untyped-def,type-arg]
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--threshold", type=float, default=0.4)
    ap.add_argument("--video-frames", type=int, default=150)
    args = ap.parse_args()
    det = FaceDetector(args.threshold, threads=1)
    scenes = face_scenes()
    faces = [encode_image(scenes[i % len(scenes)][0], "jpeg") for i in range(args.frames)]
    clean = [encode_image(shop_background(1000 + i), "jpeg") for i in range(args.frames)]
    det.detect(decode_image(clean[0], "jpeg"))  # warm up the session

    def anonymise(jpeg: bytes) -> bytes:
        rgb = decode_image(jpeg, "jpeg")
        boxes = expand_boxes(fill_gaps([det.detect(rgb)], 0)[0], 0.25, rgb.shape[:2])
        return encode_image(mask_faces(rgb, boxes), "jpeg") if len(boxes) else jpeg

    decode = _rate(lambda b: decode_image(b, "jpeg"), clean)
    with_faces = _rate(anonymise, faces)
    without = _rate(anonymise, clean)
    hits = sum(any(box_iou(b, truth) > 0.3 for b in det.detect(f)) for f, truth in scenes)
    false = sum(len(det.detect(decode_image(b, "jpeg"))) > 0 for b in clean)
    result = {
        "frame": "640x480 jpeg q90",
        "threshold": args.threshold,
        "jpeg_decode_fps": round(decode, 1),
        "anonymise_face_frames_fps": round(with_faces, 1),
        "anonymise_clean_frames_fps": round(without, 1),
        "decode_over_anonymise": round(decode / without, 1),
        "recall": hits / len(scenes),
        "faces": len(scenes),
        "false_positive_frames": false / len(clean),
        "clean_frames": len(clean),
    }
    result.update(_video(args.video_frames))
    print(json.dumps(result, indent=2))
    assert np.isfinite(decode)


def _video(n: int) -> dict[str, object]:
    """Seconds to write a clip with a face in one GOP: splice against whole re-encode."""
    scenes = face_scenes()
    frames = [shop_background(2000 + i) for i in range(n)]
    face = set(range(35, 40))  # inside the second GOP
    boxes = expand_boxes(np.array([scenes[0][1]], np.float32), 0.25, (480, 640))
    masked = [mask_faces(scenes[0][0], boxes) if i in face else f for i, f in enumerate(frames)]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.mp4"
        encode_frames(frames, src, codec="h264", fps=30.0, width=640, height=480)
        start = time.perf_counter()
        encode_frames(
            masked, Path(tmp) / "whole.mp4", codec="h264", fps=30.0, width=640, height=480
        )
        whole = time.perf_counter() - start
        start = time.perf_counter()
        gops = reencode_gops(VideoClip(src), masked, face, Path(tmp) / "gops.mp4", fps=30.0)
        spliced = time.perf_counter() - start
    return {
        "video_frames": n,
        "video_gops_reencoded": gops,
        "video_whole_reencode_s": round(whole, 3),
        "video_gop_splice_s": round(spliced, 3),
        "video_whole_over_splice": round(whole / spliced, 1),
    }


if __name__ == "__main__":
    main()
