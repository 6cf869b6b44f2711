"""Break clean episodes the way real recordings break, so QC can be tested and demonstrated.

``inject(episode, kind, meta)`` returns a corrupted copy of a clean (e.g. synthetic) episode;
:data:`DEFECTS` lists every kind with the rule that must catch it and the least severity it
must get. ``defective_batch`` / ``write_defective_dataset`` make a batch of clean episodes
plus one episode per chosen kind ("a batch with defects"). Only defects the dataset format
can hold are modelled: a writer refuses timestamps that go backwards or repeat, so those
appear here as camera times, which the format stores as recorded.

Dataset-level defects are separate helpers: :func:`strip_calibration` (cameras without
intrinsics) and :func:`corrupt_shard` (a damaged frame shard).

Example::

    from embodex.demo.defects import write_defective_dataset
    ds, labels = write_defective_dataset("demo/batch07", clean=12, kinds=["nan", "frozen_camera"])
    # labels: {episode_id: kind}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..format import (
    Dataset,
    DatasetMeta,
    DatasetWriter,
    Episode,
    Segment,
    VideoClip,
    open_dataset,
)
from ..format.images import decode_image, encode_image
from ..qc.findings import Severity

__all__ = [
    "DEFECTS",
    "EPISODE_DEFECTS",
    "Defect",
    "corrupt_shard",
    "defective_batch",
    "inject",
    "strip_calibration",
    "write_defective_dataset",
]


@dataclass(frozen=True)
class Defect:
    """A kind of defect: what it does, the rule that must flag it, and how hard."""

    kind: str
    description: str
    rule: str
    severity: Severity


def _d(kind: str, rule: str, severity: Severity, description: str) -> Defect:
    return Defect(kind, description, rule, severity)


#: Every defect kind, by name.
DEFECTS: dict[str, Defect] = {
    d.kind: d
    for d in (
        _d("nan", "numeric.finite", "fail", "three frames of one state joint are NaN"),
        _d("inf", "numeric.finite", "fail", "one action value is +Inf"),
        _d("beyond_limit", "numeric.limits", "fail", "a joint is driven 5 % past its limit"),
        _d("near_limit", "numeric.near_limit", "warn", "a joint rests at its limit for 4 s"),
        _d("jump", "numeric.jump", "fail", "a joint reading jumps by 0.8 rad in one frame"),
        _d("velocity_spike", "numeric.velocity", "fail", "a 0.6 rad flick within 3 frames"),
        _d("acceleration_spike", "numeric.acceleration", "warn", "a 0.07 rad one-frame glitch"),
        _d("tremor", "numeric.jerk", "warn", "an 8 Hz, 0.015 rad tremor on three joints"),
        _d("dead_channel", "numeric.dead_channel", "fail", "a joint sensor reads a constant"),
        _d("action_offset", "numeric.tracking", "fail", "one commanded joint is 0.6 rad off"),
        _d("dropped_frames", "timing.dropped", "fail", "8 % of the frames are missing"),
        _d("long_gap", "timing.gap", "fail", "10 consecutive frames are missing"),
        _d("jitter", "timing.jitter", "warn", "capture times jitter by 4 ms (std)"),
        _d("wrong_rate", "timing.rate", "fail", "recorded at 25 fps instead of 30"),
        _d("sync_offset", "timing.sync", "fail", "a camera's clock runs 60 ms late"),
        _d("camera_ts_backwards", "timing.monotonic", "fail", "two camera times are swapped"),
        _d("timestamps_synthesized", "timing.synthesized", "warn", "capture times made up"),
        _d("black_frames", "images.black", "fail", "a camera delivers black frames"),
        _d("white_frames", "images.white", "fail", "a camera delivers white frames"),
        _d("frozen_camera", "images.frozen", "fail", "a camera repeats its first frame"),
        _d("resolution_change", "images.resolution", "fail", "half the frames at half size"),
        _d("undecodable_images", "images.decodable", "fail", "half the frames are cut short"),
        _d("missing_camera", "integrity.streams", "fail", "one camera has no images at all"),
        _d("idle_head", "motion.idle_ends", "warn", "3 s standing still before the task"),
        _d("idle_tail", "motion.idle_ends", "warn", "3 s standing still after the task"),
        _d("mostly_idle", "motion.idle", "warn", "a long pause in the middle of the task"),
        _d(
            "gripper_chatter",
            "motion.gripper_chatter",
            "warn",
            "a gripper opens and closes 1.5 times a second for 3 s",
        ),
        _d("missing_success", "episode.success_label", "warn", "no success label"),
        _d("missing_instruction", "episode.instruction", "warn", "no English instruction"),
        _d("bad_segments", "episode.segments", "warn", "segments overlap and overrun the end"),
        _d("missing_metadata", "episode.metadata", "warn", "no operator and no scene type"),
        _d("too_short", "episode.horizon", "fail", "only 40 frames"),
        _d("outlier_duration", "batch.duration_outlier", "warn", "4x slower than its peers"),
        _d("final_pose_outlier", "batch.final_pose_outlier", "warn", "ends in a far-off pose"),
        _d("duplicate", "batch.duplicate", "fail", "an exact copy of another episode"),
        _d("near_duplicate", "batch.duplicate", "fail", "a copy with 1 mrad of noise added"),
        _d(
            "stalled_recorder",
            "timing.stalled",
            "fail",
            "state and action rows repeat bit for bit for 2 s while times advance",
        ),
        _d("action_spike", "numeric.action_jump", "fail", "one command is 0.8 rad off for a frame"),
    )
}

#: Kinds added after the first 37 (their sources all have the first skill; see defective_batch).
_LATER_KINDS = frozenset({"stalled_recorder", "action_spike"})

#: Kinds :func:`defective_batch` can add (every kind above).
EPISODE_DEFECTS: tuple[str, ...] = tuple(DEFECTS)


@dataclass
class _Work:
    """A mutable copy of an episode being corrupted."""

    meta: Any
    ts: np.ndarray
    state: np.ndarray
    action: np.ndarray | None
    features: dict[str, np.ndarray]
    images: dict[str, list[bytes] | np.ndarray]
    image_ts: dict[str, np.ndarray]
    state_name: str
    action_name: str | None
    dataset: DatasetMeta
    rng: np.random.Generator

    @property
    def n(self) -> int:
        return len(self.ts)

    def done(self) -> Episode:
        feats = dict(self.features)
        feats[self.state_name] = self.state.astype(np.float32)
        if self.action_name is not None and self.action is not None:
            feats[self.action_name] = self.action.astype(np.float32)
        return Episode(self.meta, self.ts, feats, self.images, self.image_ts)

    # -- helpers ---------------------------------------------------------------------------

    def rad_joints(self) -> list[int]:
        units = self.dataset.embodiments[0].units
        return [j for j, u in enumerate(units) if u == "rad" and j < self.state.shape[1]]

    def busiest(self, joints: Sequence[int] | None = None) -> int:
        """The joint (of ``joints``) that moves most: its command surely moves too."""
        js = list(joints) if joints is not None else self.rad_joints()
        span = self.state[:, js].max(axis=0) - self.state[:, js].min(axis=0)
        return js[int(np.argmax(span))]

    def limits(self, j: int) -> tuple[float, float]:
        emb = self.dataset.embodiments[0]
        lo = emb.position_lower[j] if emb.position_lower else float(self.state[:, j].min()) - 1
        hi = emb.position_upper[j] if emb.position_upper else float(self.state[:, j].max()) + 1
        return float(lo), float(hi)

    def colour_camera(self) -> str:
        for cam in self.dataset.cameras:
            if cam.kind == "color" and cam.name in self.images:
                return cam.name
        raise ValueError("this defect needs a colour camera")

    def take(self, keep: np.ndarray) -> None:
        """Keep only frames ``keep`` (sorted indices); segments follow the frames."""
        old_n = self.n
        self.ts = self.ts[keep]
        self.state = self.state[keep]
        if self.action is not None:
            self.action = self.action[keep]
        self.features = {k: v[keep] for k, v in self.features.items()}
        self.images = {k: _pick(v, keep) for k, v in self.images.items()}
        self.image_ts = {k: v[keep] for k, v in self.image_ts.items()}
        self.meta.segments = _remap_segments(self.meta.segments, keep, old_n)

    def frames_like(self, cam: str, sources: np.ndarray) -> list[bytes] | np.ndarray:
        """New frames of ``cam`` that copy frames ``sources`` with fresh sensor noise."""
        spec = self.dataset.camera(cam)
        frames = self.images[cam]
        if isinstance(frames, np.ndarray):
            arr = frames[sources].astype(np.int32)
            arr = arr + self.rng.integers(0, 4, size=arr.shape)
            noisy: np.ndarray = np.clip(arr, 0, 65535).astype(frames.dtype)
            return noisy
        out = []
        cache: dict[int, np.ndarray] = {}
        for s in sources.tolist():
            if s not in cache:
                cache[s] = decode_image(frames[s], spec.encoding).astype(np.int16)
            noisy = cache[s] + self.rng.normal(0, 3, size=cache[s].shape).astype(np.int16)
            out.append(encode_image(np.clip(noisy, 0, 255).astype(np.uint8), spec.encoding))
        return out

    def insert_still(self, at: int, count: int) -> None:
        """Insert ``count`` frames of standing still at frame ``at`` (0 = before the first)."""
        src = max(at - 1, 0)  # hold the pose of the frame before the pause
        period = round(1e9 / self.dataset.fps)
        jitter = self.rng.normal(0, 0.02 * period, size=count).astype(np.int64)
        if at == 0:
            new_ts = self.ts[0] - period * np.arange(count, 0, -1) + jitter
            shift_after = np.int64(0)
        else:
            new_ts = self.ts[at - 1] + period * np.arange(1, count + 1) + jitter
            shift_after = np.int64(period * count)
        still = np.repeat(self.state[src : src + 1], count, axis=0)
        still = still + self.rng.normal(0, 0.0005, size=still.shape)
        self.state = np.concatenate([self.state[:at], still, self.state[at:]])
        if self.action is not None:
            held = np.repeat(self.action[src : src + 1], count, axis=0)
            self.action = np.concatenate([self.action[:at], held, self.action[at:]])
        self.features = {
            k: np.concatenate([v[:at], np.repeat(v[src : src + 1], count, axis=0), v[at:]])
            for k, v in self.features.items()
        }
        for cam in list(self.images):
            frames = self.images[cam]
            new = self.frames_like(cam, np.full(count, src))
            if isinstance(frames, np.ndarray):
                assert isinstance(new, np.ndarray)
                self.images[cam] = np.concatenate([frames[:at], new, frames[at:]])
            else:
                self.images[cam] = [*frames[:at], *new, *frames[at:]]
        for cam, t in self.image_ts.items():
            offset = int(np.median(t - self.ts))
            self.image_ts[cam] = np.concatenate(
                [t[:at], new_ts + offset, t[at:] + shift_after]
            ).astype(np.int64)
        self.ts = np.concatenate([self.ts[:at], new_ts, self.ts[at:] + shift_after])
        self.meta.segments = [_shift_segment(s, at, count) for s in self.meta.segments]


def _pick(frames: list[bytes] | np.ndarray, keep: np.ndarray) -> list[bytes] | np.ndarray:
    if isinstance(frames, np.ndarray):
        kept: np.ndarray = frames[keep]
        return kept
    return [frames[i] for i in keep.tolist()]


def _remap_segments(segments: list[Segment], keep: np.ndarray, old_n: int) -> list[Segment]:
    out = []
    for s in segments:
        a = int(np.searchsorted(keep, s.start_frame))
        b = int(np.searchsorted(keep, min(s.end_frame, old_n)))
        if b > a:
            out.append(s.model_copy(update={"start_frame": a, "end_frame": b}))
    return out


def _shift_segment(s: Segment, at: int, count: int) -> Segment:
    """A segment after ``count`` frames were inserted at frame ``at``."""
    start = s.start_frame + (count if s.start_frame >= at else 0)
    end = s.end_frame + (count if s.end_frame > at else 0)
    return s.model_copy(update={"start_frame": start, "end_frame": end})


def _bump(n: int, a: int, rise: int, hold: int) -> np.ndarray:
    """0..1 profile: smooth rise over ``rise`` frames from ``a``, hold, smooth fall."""
    b = np.zeros(n)
    ramp = np.sin(np.linspace(0, np.pi / 2, rise)) ** 2
    end = min(n, a + rise)
    b[a:end] = ramp[: end - a]
    b[min(n, a + rise) : min(n, a + rise + hold)] = 1.0
    fall_start = a + rise + hold
    fall_end = min(n, fall_start + rise)
    if fall_start < n:
        b[fall_start:fall_end] = ramp[::-1][: fall_end - fall_start]
    return b


def _min_jerk_ramp(n: int, a: int) -> np.ndarray:
    """0 before frame a, a minimum-jerk rise to 1 at the last frame."""
    b = np.zeros(n)
    s = np.linspace(0, 1, n - a)
    b[a:] = 10 * s**3 - 15 * s**4 + 6 * s**5
    return b


# -- the defects -----------------------------------------------------------------------------


def _nan(w: _Work) -> None:
    j, k = w.busiest(), w.n // 2
    w.state[k : k + 3, j] = np.nan


def _inf(w: _Work) -> None:
    if w.action is None:
        w.state[w.n // 3, w.busiest()] = np.inf
    else:
        w.action[w.n // 3, w.busiest()] = np.inf


def _beyond_limit(w: _Work) -> None:
    js = w.rad_joints()
    a, rise, hold = w.n // 3, max(2, round(w.dataset.fps)), max(1, round(w.dataset.fps / 2))
    # the joint that is already closest to its upper limit there needs the smallest move
    gaps = [w.limits(j)[1] - w.state[a, j] for j in js]
    j = js[int(np.argmin(gaps))]
    lo, hi = w.limits(j)
    target = hi + 0.05 * (hi - lo)
    b = _bump(w.n, a, rise, hold)
    for arr in (w.state, w.action):
        if arr is not None:
            arr[:, j] = arr[:, j] * (1 - b) + target * b


def _near_limit(w: _Work) -> None:
    js = w.rad_joints()
    fps = w.dataset.fps
    a, rise, hold = w.n // 5, round(fps), round(4.5 * fps)
    gaps = [w.limits(j)[1] - w.state[a, j] for j in js]
    j = js[int(np.argmin(gaps))]
    lo, hi = w.limits(j)
    target = hi - 0.004 * (hi - lo)
    b = _bump(w.n, a, rise, hold)
    for arr in (w.state, w.action):
        if arr is not None:
            arr[:, j] = arr[:, j] * (1 - b) + target * b
    w.state[:, j] = np.minimum(w.state[:, j], hi)


def _toward_centre(w: _Work, j: int, k: int) -> float:
    lo, hi = w.limits(j)
    return 1.0 if w.state[k, j] < (lo + hi) / 2 else -1.0


def _jump(w: _Work) -> None:
    j, k = w.busiest(), w.n // 2
    w.state[k:, j] += 0.8 * _toward_centre(w, j, k)


def _velocity_spike(w: _Work) -> None:
    j, k = w.busiest(), w.n // 2
    sign = _toward_centre(w, j, k)
    w.state[k : k + 7, j] += sign * np.array([0.2, 0.4, 0.6, 0.6, 0.4, 0.2, 0.0])


def _acceleration_spike(w: _Work) -> None:
    js = w.rad_joints()
    speed = np.abs(np.diff(w.state[:, js], axis=0)).max(axis=1)
    k = int(np.argmin(speed[5:-5])) + 5  # where the robot is slowest
    j = js[0]
    w.state[k, j] += 0.07 * _toward_centre(w, j, k)


def _tremor(w: _Work) -> None:
    t = (w.ts - w.ts[0]) * 1e-9
    for j in w.rad_joints()[:3]:
        w.state[:, j] += 0.015 * np.sin(2 * np.pi * 8.0 * t + j)


def _dead_channel(w: _Work) -> None:
    j = w.busiest()
    w.state[:, j] = w.state[0, j]


def _action_offset(w: _Work) -> None:
    if w.action is None:
        raise ValueError("action_offset needs an action feature")
    j = w.busiest()
    w.action[:, j] += 0.6 * _toward_centre(w, j, w.n // 2)


def _dropped(w: _Work) -> None:
    inner = np.arange(1, w.n - 1)
    drop = w.rng.choice(inner, size=int(0.08 * w.n), replace=False)
    w.take(np.setdiff1d(np.arange(w.n), drop))


def _long_gap(w: _Work) -> None:
    k = w.n // 2
    w.take(np.concatenate([np.arange(k), np.arange(k + 10, w.n)]))


def _jitter(w: _Work) -> None:
    period = 1e9 / w.dataset.fps
    noise = np.clip(w.rng.normal(0, 0.004e9, size=w.n), -0.24 * period, 0.24 * period)
    w.ts = (w.ts + noise).astype(np.int64)


def _wrong_rate(w: _Work) -> None:
    t0 = int(w.ts[0])
    new = t0 + (np.arange(w.n) * 40_000_000).astype(np.int64)
    for cam, t in w.image_ts.items():
        w.image_ts[cam] = new + (t - w.ts)
    w.ts = new


def _sync_offset(w: _Work) -> None:
    cam = next(iter(w.image_ts))
    w.image_ts[cam] = w.image_ts[cam] + 60_000_000


def _stalled(w: _Work) -> None:
    k, count = w.n // 3, min(int(2 * w.dataset.fps), w.n // 3)
    w.state[k : k + count] = w.state[k]
    if w.action is not None:
        w.action[k : k + count] = w.action[k]


def _action_spike(w: _Work) -> None:
    if w.action is None:
        raise ValueError("this defect needs an action feature")
    j, k = w.busiest(), w.n // 2
    lo, hi = w.limits(j)
    w.action[k, j] += 0.8 if w.action[k, j] < (lo + hi) / 2 else -0.8


def _camera_ts_backwards(w: _Work) -> None:
    cam = next(iter(w.image_ts))
    t = w.image_ts[cam].copy()
    k = w.n // 2
    t[k], t[k + 1] = t[k + 1], t[k]
    w.image_ts[cam] = t


def _flat(w: _Work, value: int) -> None:
    cam = w.colour_camera()
    spec = w.dataset.camera(cam)
    frame = np.full((spec.height, spec.width, 3), value, dtype=np.uint8)
    w.images[cam] = [encode_image(frame, spec.encoding)] * w.n


def _frozen(w: _Work) -> None:
    cam = w.colour_camera()
    frames = w.images[cam]
    assert not isinstance(frames, np.ndarray)
    w.images[cam] = [frames[0]] * w.n


def _resolution(w: _Work) -> None:
    cam = w.colour_camera()
    spec = w.dataset.camera(cam)
    frames = list(w.images[cam])
    for i in range(w.n // 2, w.n):
        img = decode_image(frames[i], spec.encoding)[::2, ::2]
        frames[i] = encode_image(np.ascontiguousarray(img), spec.encoding)
    w.images[cam] = frames


def _undecodable(w: _Work) -> None:
    cam = w.colour_camera()
    frames = list(w.images[cam])
    for i in range(w.n // 2, w.n):
        frames[i] = bytes(frames[i][:24]) + b"\x00" * 8
    w.images[cam] = frames


def _missing_camera(w: _Work) -> None:
    cam = w.colour_camera()
    del w.images[cam]
    w.image_ts.pop(cam, None)


def _idle_head(w: _Work) -> None:
    w.insert_still(0, round(3 * w.dataset.fps))


def _idle_tail(w: _Work) -> None:
    w.insert_still(w.n, round(3 * w.dataset.fps))


def _mostly_idle(w: _Work) -> None:
    w.insert_still(w.n // 2, 2 * w.n)


def _gripper_chatter(w: _Work) -> None:
    names = w.dataset.embodiments[0].joint_names
    grippers = [j for j, name in enumerate(names) if "gripper" in name]
    if not grippers:
        raise ValueError("gripper_chatter needs a joint named *gripper*")
    j = grippers[-1]
    lo, hi = w.limits(j)
    fps = w.dataset.fps
    a, m = w.n // 4, round(3 * fps)
    t = np.arange(min(m, w.n - a)) / fps
    wave = lo + 0.05 * (hi - lo) + 0.8 * (hi - lo) * (0.5 - 0.5 * np.cos(2 * np.pi * 1.5 * t))
    for arr in (w.state, w.action):
        if arr is not None:
            arr[a : a + len(t), j] = wave


def _missing_success(w: _Work) -> None:
    w.meta.success = None
    w.meta.failure_cause = None


def _missing_instruction(w: _Work) -> None:
    w.meta.instruction_en = None


def _bad_segments(w: _Work) -> None:
    n = w.n
    w.meta.segments = [
        Segment(start_frame=0, end_frame=n // 2, skill="reach"),
        Segment(start_frame=n // 3, end_frame=n + 20, skill="grasp"),
    ]


def _missing_metadata(w: _Work) -> None:
    w.meta.operator_id = None
    w.meta.scene_type = None


def _too_short(w: _Work) -> None:
    w.take(np.arange(min(40, w.n)))


def _synthesized(w: _Work) -> None:
    w.meta.timestamps_synthesized = True


def _outlier_duration(w: _Work) -> None:
    factor = 4
    n, m = w.n, w.n * factor
    src = np.linspace(0, n - 1, m)
    base = np.arange(n)

    def stretch(x: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(src, base, x[:, d]) for d in range(x.shape[1])], axis=1)

    w.state = stretch(w.state)
    if w.action is not None:
        w.action = stretch(w.action)
    w.features = {k: stretch(v.astype(np.float64)) for k, v in w.features.items()}
    nearest = np.rint(src).astype(np.int64)
    period = 1e9 / w.dataset.fps
    jitter = w.rng.normal(0, 0.0015 * period, size=m)
    new_ts = (w.ts[0] + np.arange(m) * period + jitter).astype(np.int64)
    for cam in list(w.images):
        w.images[cam] = w.frames_like(cam, nearest)
    for cam, t in w.image_ts.items():
        w.image_ts[cam] = new_ts + int(np.median(t - w.ts))
    w.ts = new_ts
    w.meta.segments = [
        s.model_copy(
            update={"start_frame": s.start_frame * factor, "end_frame": s.end_frame * factor}
        )
        for s in w.meta.segments
    ]


def _final_pose(w: _Work) -> None:
    js = [j for j in w.rad_joints() if j < 14] or w.rad_joints()
    a = int(w.n * 0.55)
    b = _min_jerk_ramp(w.n, a)
    for j in js:
        lo, hi = w.limits(j)
        far = lo + 0.08 * (hi - lo) if w.state[a, j] > (lo + hi) / 2 else hi - 0.08 * (hi - lo)
        for arr in (w.state, w.action):
            if arr is not None:
                arr[:, j] = arr[:, j] * (1 - b) + far * b


_APPLY: dict[str, Callable[[_Work], None]] = {
    "nan": _nan,
    "inf": _inf,
    "beyond_limit": _beyond_limit,
    "near_limit": _near_limit,
    "jump": _jump,
    "velocity_spike": _velocity_spike,
    "acceleration_spike": _acceleration_spike,
    "tremor": _tremor,
    "dead_channel": _dead_channel,
    "action_offset": _action_offset,
    "dropped_frames": _dropped,
    "long_gap": _long_gap,
    "jitter": _jitter,
    "wrong_rate": _wrong_rate,
    "sync_offset": _sync_offset,
    "stalled_recorder": _stalled,
    "action_spike": _action_spike,
    "camera_ts_backwards": _camera_ts_backwards,
    "timestamps_synthesized": _synthesized,
    "black_frames": lambda w: _flat(w, 0),
    "white_frames": lambda w: _flat(w, 255),
    "frozen_camera": _frozen,
    "resolution_change": _resolution,
    "undecodable_images": _undecodable,
    "missing_camera": _missing_camera,
    "idle_head": _idle_head,
    "idle_tail": _idle_tail,
    "mostly_idle": _mostly_idle,
    "gripper_chatter": _gripper_chatter,
    "missing_success": _missing_success,
    "missing_instruction": _missing_instruction,
    "bad_segments": _bad_segments,
    "missing_metadata": _missing_metadata,
    "too_short": _too_short,
    "outlier_duration": _outlier_duration,
    "final_pose_outlier": _final_pose,
}


def _role(meta: DatasetMeta, role: str) -> str | None:
    for name, f in meta.feature_items():
        if f.role == role:
            return name
    return None


def _work(episode: Episode, meta: DatasetMeta, seed: int) -> _Work:
    state_name = _role(meta, "state")
    if state_name is None:
        raise ValueError("defects need a feature with role 'state'")
    action_name = _role(meta, "action")
    feats = {k: np.array(v, copy=True) for k, v in episode.features.items()}
    state = feats.pop(state_name).astype(np.float64)
    action = feats.pop(action_name).astype(np.float64) if action_name in feats else None
    images: dict[str, list[bytes] | np.ndarray] = {}
    for cam, frames in episode.images.items():
        if isinstance(frames, VideoClip):
            frames = np.stack(list(frames.decode()))  # defects edit pixels
        images[cam] = (
            np.array(frames, copy=True) if isinstance(frames, np.ndarray) else list(frames)
        )
    return _Work(
        meta=episode.meta.model_copy(deep=True),
        ts=np.array(episode.timestamp_ns, dtype=np.int64, copy=True),
        state=state,
        action=action,
        features=feats,
        images=images,
        image_ts={
            k: np.array(v, dtype=np.int64, copy=True)
            for k, v in episode.image_timestamps_ns.items()
        },
        state_name=state_name,
        action_name=action_name if action is not None else None,
        dataset=meta,
        rng=np.random.default_rng([seed, len(episode.timestamp_ns)]),
    )


def inject(episode: Episode, kind: str, meta: DatasetMeta, *, seed: int = 0) -> Episode:
    """A copy of ``episode`` (clean, at ``meta``'s fps) with defect ``kind`` put in.

    ``duplicate`` and ``near_duplicate`` copy the episode under a new id (``<id>-dup``).
    Raises ``KeyError`` for an unknown kind and ``ValueError`` when the episode lacks what
    the defect needs (a colour camera, an action feature...).
    """
    if kind not in DEFECTS:
        raise KeyError(f"unknown defect {kind!r}; known: {', '.join(DEFECTS)}")
    w = _work(episode, meta, seed)
    if kind in ("duplicate", "near_duplicate"):
        w.meta.episode_id = f"{episode.meta.episode_id}-dup"
        w.ts = w.ts + 3_600_000_000_000  # recorded "an hour later"
        w.image_ts = {k: v + 3_600_000_000_000 for k, v in w.image_ts.items()}
        if kind == "near_duplicate":
            w.state = w.state + w.rng.normal(0, 0.001, size=w.state.shape)
            if w.action is not None:
                w.action = w.action + w.rng.normal(0, 0.001, size=w.action.shape)
        return w.done()
    _APPLY[kind](w)
    return w.done()


def defective_batch(
    meta: DatasetMeta,
    *,
    clean: int = 10,
    kinds: Iterable[str] | None = None,
    seed: int = 0,
    duration_s: tuple[float, float] = (6.0, 10.0),
) -> tuple[list[Episode], dict[str, str]]:
    """``clean`` synthetic episodes, then one corrupted episode per kind (all by default).

    Returns the episodes and ``{episode_id: kind}`` for the corrupted ones. Duplicates copy
    the first clean episode, so ``clean`` must be at least 1 when they are asked for.
    """
    from .synth import SKILLS, synth_episode

    chosen = list(kinds) if kinds is not None else list(EPISODE_DEFECTS)
    unknown = [k for k in chosen if k not in DEFECTS]
    if unknown:
        raise KeyError(f"unknown defect(s) {unknown}; known: {', '.join(DEFECTS)}")
    episodes = [synth_episode(meta, i, seed=seed, duration_s=duration_s) for i in range(clean)]
    labels: dict[str, str] = {}
    for k, kind in enumerate(chosen):
        if kind in ("duplicate", "near_duplicate"):
            if not episodes:
                raise ValueError("duplicates need at least one clean episode")
            source = episodes[0]
            bad = inject(source, kind, meta, seed=seed + k)
            bad.meta.episode_id = f"{source.meta.episode_id}-{kind.replace('_', '-')}"
        else:
            # kinds added after the first set take their source from one fixed skill, so the
            # batches made before keep their skill groups (the batch rules' statistics)
            skill = SKILLS[0] if kind in _LATER_KINDS else None
            source = synth_episode(meta, clean + k, seed=seed, duration_s=duration_s, skill=skill)
            bad = inject(source, kind, meta, seed=seed + k)
        episodes.append(bad)
        labels[bad.meta.episode_id] = kind
    return episodes, labels


def write_defective_dataset(
    path: str | Path,
    *,
    meta: DatasetMeta | None = None,
    clean: int = 10,
    kinds: Iterable[str] | None = None,
    seed: int = 0,
    duration_s: tuple[float, float] = (6.0, 10.0),
) -> tuple[Dataset, dict[str, str]]:
    """Write :func:`defective_batch` as a dataset at ``path``; return it and the labels."""
    from .synth import synth_meta

    meta = meta or synth_meta()
    episodes, labels = defective_batch(
        meta, clean=clean, kinds=kinds, seed=seed, duration_s=duration_s
    )
    with DatasetWriter(path, meta) as writer:
        for ep in episodes:
            writer.add_episode(ep)
    return open_dataset(path), labels


def strip_calibration(meta: DatasetMeta, cameras: Sequence[str] | None = None) -> DatasetMeta:
    """``meta`` with the intrinsics and extrinsics of ``cameras`` (default: all) removed."""
    names = set(cameras) if cameras is not None else {c.name for c in meta.cameras}
    cams = [
        c.model_copy(update={"intrinsics": None, "extrinsics": None}) if c.name in names else c
        for c in meta.cameras
    ]
    return meta.model_copy(update={"cameras": cams})


def corrupt_shard(dataset: str | Path, shard: str | None = None, *, keep: float = 0.5) -> Path:
    """Truncate a frame shard to ``keep`` of its bytes (the first shard by default).

    The dataset's manifest is left as it was, so readers notice the damage; QC labels every
    episode of that shard with ``integrity.readable``.
    """
    root = Path(dataset)
    if shard is None:
        shard = sorted(
            p.relative_to(root).as_posix() for p in (root / "data").glob("shard-*.arrow")
        )[0]
    path = root / shard
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _check_tables() -> None:  # pragma: no cover - import-time consistency
    missing = set(DEFECTS) - set(_APPLY) - {"duplicate", "near_duplicate"}
    if missing:
        raise RuntimeError(f"defects without an implementation: {sorted(missing)}")


_check_tables()
