"""A calibration corpus for QC: takes from a realistic recorder, clean or with one known fault.

`embodex.demo.synth` makes idealised episodes (every joint moves all the time, cameras are
calibrated, camera times sit 4 ms after the joint rows). Real recorders differ, and QC must
neither cry wolf on them nor miss their faults. The takes here imitate an AgiBot-layout
recorder:

* two 7-joint arms, grippers as opening fractions, head and waist (AgiBot joint names);
  a task uses the left arm, the right arm or both; **the other arm rests** (encoder noise
  only), and the working arm **dwells** (pauses of 0.3-1.2 s) between moves;
* the joint clock **jitters** by about 1 ms per row and **drifts** by up to +-800 ppm;
  camera times are the video's presentation times, exactly ``t0 + k/fps``;
* cameras ``head``, ``hand_left``, ``hand_right`` (wrist cameras), **no calibration** and no
  joint limits shipped (the centre declares limits in its QC profile: :func:`corpus_profile`);
* a camera repeats its previous frame bit for bit while the joints that move its picture
  stay still, as a video codec does with a still scene.

:data:`FAULTS` lists each fault with the rule that must flag it and the rules it may
legitimately set off too; :func:`corpus` yields :class:`Take` objects (the episode, its
fault and the frames the fault covers). Used by ``tests/test_qc_corpus.py`` and
``benchmarks/qc_accuracy.py``. Production code never imports this module.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..format import (
    Camera,
    DatasetMeta,
    Embodiment,
    Episode,
    EpisodeMeta,
    Feature,
    Provenance,
    Segment,
    VideoClip,
)
from ..format.images import encode_image
from ..format.importers.agibot_layout import JOINT_NAMES, UNITS
from ..qc.profile import Profile, default_profile

__all__ = [
    "FAULTS",
    "LIMITS",
    "Fault",
    "Take",
    "clean_take",
    "corpus",
    "corpus_meta",
    "corpus_profile",
    "faulty_take",
]

FPS = 30.0
PERIOD_NS = 1e9 / FPS
ROBOT = "AgiBot-G1-recorder"
_ARM_LO = np.array([-3.0, -1.9, -3.0, -2.4, -3.0, -1.6, -3.0])
_ARM_HI = np.array([3.0, 1.9, 3.0, 0.3, 3.0, 1.6, 3.0])
_LO = np.concatenate([_ARM_LO, _ARM_LO, [0.0, 0.0, -1.0, -0.5, -0.2, 0.0]])
_HI = np.concatenate([_ARM_HI, _ARM_HI, [1.0, 1.0, 1.0, 0.5, 0.6, 0.45]])
#: The robot's joint limits, by name: what the centre writes in its QC profile.
LIMITS: dict[str, tuple[float, float]] = {
    n: (float(lo), float(hi)) for n, lo, hi in zip(JOINT_NAMES, _LO, _HI, strict=True)
}
_LEFT = list(range(7))
_RIGHT = list(range(7, 14))
_GRIP = {"left": 14, "right": 15}
_CAMS = ("head", "hand_left", "hand_right")
_SIZE = 32


@dataclass(frozen=True)
class Fault:
    """A recorder fault: the rule that must flag it, and rules it may set off as well."""

    name: str
    rule: str
    description: str
    also: frozenset[str] = frozenset()


def _f(name: str, rule: str, description: str, *also: str) -> Fault:
    return Fault(name, rule, description, frozenset(also))


#: Every fault the corpus injects.
FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        # when the recorder resumes, the joints leap to where the robot went meanwhile, while
        # the camera (which kept filming) may show that arm at rest
        _f("stalled", "timing.stalled", "state and action rows repeat bit for bit for 1.5-3 s",
           "numeric.jump", "numeric.acceleration", "numeric.velocity", "numeric.tracking",
           "numeric.jerk", "images.frozen", "numeric.action_jump"),
        _f("frozen_camera", "images.frozen", "a moving camera repeats one frame for 2-3 s"),
        _f("sync_offset", "timing.sync", "a camera's times run 50-90 ms late"),
        _f("dropped_span", "timing.gap", "the recorder loses 0.4-0.7 s of rows and frames",
           "timing.dropped", "timing.rate", "numeric.jump", "numeric.acceleration",
           "numeric.velocity", "numeric.jerk", "numeric.tracking", "numeric.action_jump"),
        _f("nan", "numeric.finite", "a joint reads NaN for 3 frames",
           "numeric.tracking"),
        _f("glitch", "numeric.jump", "one reading of a joint is 0.8 rad off",
           "numeric.acceleration", "numeric.velocity", "numeric.jerk", "numeric.tracking"),
        # a joint's zero is off: its whole trace, final pose included, sits elsewhere
        _f("beyond_limit", "numeric.limits", "a joint's zero is off: 0.15 rad past its limit",
           "numeric.near_limit", "batch.final_pose_outlier"),
        _f("black_span", "images.black", "a camera is black for 2-3 s"),
        # the busiest joint reads still, so the robot looks idle for longer
        _f("dead_joint", "numeric.dead_channel", "a working joint's sensor reads a constant",
           "numeric.tracking", "numeric.jump", "numeric.acceleration", "numeric.velocity",
           "motion.idle", "motion.idle_ends"),
        _f("gripper_chatter", "motion.gripper_chatter", "a gripper flaps open/closed for 3 s",
           "numeric.velocity", "numeric.tracking", "numeric.jump", "numeric.acceleration",
           "numeric.jerk"),
        _f("camera_ts_swap", "timing.monotonic", "two camera times are swapped", "timing.sync"),
        _f("command_glitch", "numeric.action_jump", "one command of the working arm is 0.8 rad "
           "off for a frame", "numeric.tracking"),
    )
}  # fmt: skip


@dataclass
class Take:
    """One take: its episode, its fault (None: clean) and the frames the fault covers."""

    episode: Episode
    fault: str | None
    frames: tuple[int, int] | None

    @property
    def episode_id(self) -> str:
        return self.episode.meta.episode_id


def corpus_meta(name: str = "recorder-corpus") -> DatasetMeta:
    """Metadata as the recorder ships it: no calibration, no joint or velocity limits."""
    names = list(JOINT_NAMES)
    return DatasetMeta(
        name=name,
        licence="CC-BY-4.0",
        description="QC calibration corpus (embodex.demo.recorder).",
        provenance=Provenance(centre_id="qc-corpus", centre_name="QC corpus centre"),
        embodiments=[Embodiment(model=ROBOT, dof=len(names), joint_names=names, units=list(UNITS))],
        cameras=[Camera(name=c, width=_SIZE, height=_SIZE, encoding="jpeg") for c in _CAMS],
        features={
            "state": Feature(shape=[len(names)], names=names, role="state"),
            "action": Feature(shape=[len(names)], names=names, role="action"),
        },
        fps=FPS,
    )


def corpus_profile(base: Profile | None = None) -> Profile:
    """``base`` (default ``humanoid-30fps``) with the robot's joint limits declared by name."""
    data = (base or default_profile()).content
    data["robot"] = {**data["robot"], "limits": {k: list(v) for k, v in LIMITS.items()}}
    return Profile.model_validate(data)


# -- motion ----------------------------------------------------------------------------------


def _min_jerk(n: int) -> np.ndarray:
    s = np.linspace(0.0, 1.0, n)
    return np.asarray(10 * s**3 - 15 * s**4 + 6 * s**5)


def _arm_path(
    rng: np.random.Generator, n: int, joints: list[int], dwell: bool, home: np.ndarray
) -> np.ndarray:
    """(n, 7) positions of a working arm: from near its ``home`` pose, moves of 0.8-2.5 s
    between poses that stray from home and come back, with dwells of 0.3-1.2 s between some
    of them, and a last move of 1.5-3.3 s back to near home (where operators end a take)."""
    lo, hi = _LO[joints], _HI[joints]
    half = (hi - lo) / 2
    pose = home + rng.uniform(-0.03, 0.03, len(joints)) * half
    out = np.empty((n, len(joints)))
    keep = int(1.5 * FPS)  # every move but the last leaves at least this for the last
    i = 0
    while i < n:
        rem = n - i
        if rem <= 3.3 * FPS:
            k = rem
            target = home + rng.uniform(-0.03, 0.03, len(joints)) * half
        elif dwell and i > 0 and rng.random() < 0.4:
            k = min(rem - keep, int(rng.uniform(0.3, 1.2) * FPS))
            out[i : i + k] = pose
            i += k
            continue
        else:
            k = min(rem - keep, int(rng.uniform(0.8, 2.5) * FPS))
            step = rng.normal(0, 0.35, len(joints)) * half * (k / FPS / 2.5)
            # strays from home and is pulled back: the excursions of a task stay bounded
            target = np.clip(home + 0.5 * (pose - home) + step, lo + 0.15 * half, hi - 0.15 * half)
        s = _min_jerk(k)[:, None]
        out[i : i + k] = pose + (target - pose) * s
        pose = out[i + k - 1].copy()
        i += k
    return out


def _gripper(rng: np.random.Generator, n: int) -> np.ndarray:
    """Opening fraction of a working gripper: open, close about a third in, open near the end."""
    g = np.zeros(n)
    a = int(n * rng.uniform(0.25, 0.4))
    b = int(n * rng.uniform(0.65, 0.8))
    ramp = min(15, max(2, (b - a) // 3))
    g[a:b] = 0.9
    g[a : a + ramp] = 0.9 * _min_jerk(ramp)
    g[b - ramp : b] = 0.9 * (1 - _min_jerk(ramp))
    return g


# -- pictures --------------------------------------------------------------------------------


def _chain(cam: str) -> list[int]:
    if cam == "hand_left":
        return [*_LEFT, 14, 18, 19]
    if cam == "hand_right":
        return [*_RIGHT, 15, 18, 19]
    return list(range(20))


def _render(rng: np.random.Generator, cam: str, state: np.ndarray) -> tuple[list[bytes], list[int]]:
    """JPEG frames of ``cam``; a frame repeats (same bytes) while the joints that move its
    picture stay within 0.01 of where they were at the last new frame, as a codec does.
    Returns the frames and the indices of the new (not repeated) ones."""
    n = len(state)
    raw = rng.integers(40, 215, size=(2 * _SIZE, 2 * _SIZE, 3)).astype(np.float64)
    texture = (raw + np.roll(raw, 1, 0) + np.roll(raw, 1, 1)) / 3  # less harsh
    chain = _chain(cam)
    frames: list[bytes] = []
    fresh: list[int] = []
    last: np.ndarray | None = None
    for i in range(n):
        q = state[i, chain]
        if last is not None and np.isfinite(q).all() and np.abs(q - last).max() < 0.01:
            frames.append(frames[-1])
            continue
        last = np.nan_to_num(q)
        if cam == "head":
            dy, dx = last[16] * 12, last[17] * 12
            spot = [(last[0] + last[3], last[1]), (last[7] + last[10], last[8])]
        else:
            dy, dx = last[0] * 8 + last[4] * 3, last[1] * 8 + last[5] * 3
            spot = [(last[7] * 2, last[2])]  # the gripper's fingers
        y0, x0 = int(dy) % _SIZE, int(dx) % _SIZE
        img = texture[y0 : y0 + _SIZE, x0 : x0 + _SIZE].copy()
        for sy, sx in spot:
            cy, cx = int(16 + 8 * np.sin(sy)) % _SIZE, int(16 + 8 * np.sin(sx)) % _SIZE
            img[max(0, cy - 3) : cy + 3, max(0, cx - 3) : cx + 3] = (30, 60, 200)
        img += rng.normal(0, 2.0, size=img.shape)
        frames.append(encode_image(np.clip(img, 0, 255).astype(np.uint8), "jpeg"))
        fresh.append(i)
    return frames, fresh


# -- takes -----------------------------------------------------------------------------------

_SKILLS = ("pick_cup", "wipe_table", "hand_over", "open_drawer")


def clean_take(meta: DatasetMeta, index: int, *, seed: int = 0) -> Episode:
    """Take ``index`` of stream ``seed``: clean, as a well-behaved recorder makes it."""
    rng = np.random.default_rng([seed, index, 1703])
    n = int(rng.uniform(8, 24) * FPS)
    arm = ("left", "right", "both")[int(rng.integers(3))]
    state = np.empty((n, 20))
    skill = _SKILLS[int(rng.integers(len(_SKILLS)))]
    # each skill starts and ends near its own home pose (the robot's ready pose for it)
    home = (_LO + _HI) / 2 + np.random.default_rng([_SKILLS.index(skill)]).uniform(
        -0.3, 0.3, 20
    ) * (_HI - _LO) / 2
    rest = home + rng.uniform(-0.02, 0.02, 20) * (_HI - _LO) / 2
    state[:] = rest
    for side, joints in (("left", _LEFT), ("right", _RIGHT)):
        g = _GRIP[side]
        if arm in (side, "both"):
            state[:, joints] = _arm_path(rng, n, joints, dwell=True, home=home[joints])
            state[:, g] = _gripper(rng, n)
        else:
            state[:, g] = 0.0
    # the head glances once in a while; the waist stays put
    look = _min_jerk(n) * rng.uniform(-0.15, 0.15)
    state[:, 16] = rest[16] + look
    action = np.concatenate([state[3:], np.repeat(state[-1:], 3, axis=0)])
    # teleoperation commands carry the operator's tremor; encoders carry noise
    action[:, :14] += rng.normal(0, 0.002, size=(n, 14))
    measured = state.copy()
    measured[:, :14] += rng.normal(0, 0.0004, size=(n, 14))
    measured[:, 16:20] += rng.normal(0, 0.0002, size=(n, 4))
    drift = rng.uniform(-800e-6, 800e-6)
    t0 = 1_767_225_600_000_000_000 + index * 10**11 + int(rng.integers(0, 10**9))
    jitter = np.clip(rng.normal(0, 1e6, n), -8e6, 8e6)
    ts = (t0 + np.arange(n) * PERIOD_NS * (1 + drift) + jitter).astype(np.int64)
    cam_ts = (ts[0] + np.round(np.arange(n) * PERIOD_NS)).astype(np.int64)
    images = {cam: _render(rng, cam, measured)[0] for cam in _CAMS}
    cuts = np.linspace(0, n, 4).astype(int)
    eid = uuid.uuid5(uuid.NAMESPACE_URL, f"qc-corpus/{seed}/{index}").hex[:16]
    em = EpisodeMeta(
        episode_id=f"qc-corpus:{eid}",
        scene_type="kitchen",
        robot_model=ROBOT,
        operator_id=f"op-{int(rng.integers(1, 9)):02d}",
        skill=skill,
        instruction_en=f"{skill.replace('_', ' ')} with the {arm} arm",
        segments=[
            Segment(start_frame=int(a), end_frame=int(b), skill=f"step{k}")
            for k, (a, b) in enumerate(itertools.pairwise(cuts.tolist()))
        ],
        success=True,
        extra={"arm": arm, "drift_ppm": round(drift * 1e6, 1)},
    )
    return Episode(
        meta=em,
        timestamp_ns=ts,
        features={"state": measured.astype(np.float32), "action": action.astype(np.float32)},
        images=images,
        image_timestamps_ns={cam: cam_ts.copy() for cam in _CAMS},
    )


def _working(ep: Episode) -> tuple[str, list[int]]:
    arm = str(ep.meta.extra["arm"])
    side = "right" if arm == "right" else "left"
    return side, _LEFT if side == "left" else _RIGHT


def _moving_window(
    state: np.ndarray,
    chain: list[int],
    length: int,
    rng: np.random.Generator,
    gap: int = 15,
    min_motion: float = 0.08,
) -> int | None:
    """A start frame where the chain moves more than ``min_motion`` over every ``gap``
    frames for ``length`` frames, at random among those that exist."""
    n = len(state)
    q = state[:, chain]
    moved = np.zeros(n, dtype=bool)
    moved[: n - gap] = np.abs(q[gap:] - q[:-gap]).max(axis=1) > min_motion
    ok = [a for a in range(1, n - length - 1) if moved[a : a + length - gap].all()]
    return int(rng.choice(ok)) if ok else None  # fmt: skip


def faulty_take(
    meta: DatasetMeta, index: int, fault: str, *, seed: int = 0, at: int | None = None
) -> Take:
    """Take ``index`` with ``fault`` put in (``at``: where, for faults placed in time).
    Raises ``KeyError`` for an unknown fault, ``ValueError`` when the take cannot hold it
    (the caller draws another index)."""
    if fault not in FAULTS:
        raise KeyError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
    ep = clean_take(meta, index, seed=seed)
    rng = np.random.default_rng([seed, index, 99])
    n = ep.num_frames
    st = np.array(ep.features["state"], dtype=np.float32)
    ac = np.array(ep.features["action"], dtype=np.float32)
    ts = np.array(ep.timestamp_ns)
    # clean takes hold JPEG frames (the demo recorder renders pictures, never video)
    images = {k: list(v) for k, v in ep.images.items() if not isinstance(v, VideoClip)}
    cam_ts = {k: np.array(v) for k, v in ep.image_timestamps_ns.items()}
    side, joints = _working(ep)
    frames: tuple[int, int]
    if fault == "stalled":
        k = int(rng.uniform(1.5, 3.0) * FPS)
        a = at if at is not None else int(rng.integers(1, n - k))
        st[a : k + a] = st[a]
        ac[a : k + a] = ac[a]
        frames = (a, a + k)
    elif fault in ("frozen_camera", "black_span"):
        cam = f"hand_{side}" if fault == "frozen_camera" else _CAMS[int(rng.integers(3))]
        k = int(rng.uniform(2.0, 3.0) * FPS)
        if fault == "frozen_camera":
            found = at if at is not None else _moving_window(st, _chain(cam), k, rng)
            if found is None:
                raise ValueError("no stretch where the arm keeps moving")
            a = found
            images[cam][a : a + k] = [images[cam][a]] * k
        else:
            a = at if at is not None else int(rng.integers(0, n - k))
            black = encode_image(np.full((_SIZE, _SIZE, 3), 3, np.uint8), "jpeg")
            images[cam][a : a + k] = [black] * k
        frames = (a, a + k)
    elif fault == "sync_offset":
        cam = _CAMS[int(rng.integers(3))]
        cam_ts[cam] = cam_ts[cam] + int(rng.uniform(50, 90) * 1e6)
        frames = (0, n)
    elif fault == "dropped_span":
        k = int(rng.uniform(0.4, 0.7) * FPS)
        a = at if at is not None else int(rng.integers(n // 4, 3 * n // 4))
        keep = np.concatenate([np.arange(a), np.arange(a + k, n)])
        st, ac, ts = st[keep], ac[keep], ts[keep]
        images = {c: [f[i] for i in keep.tolist()] for c, f in images.items()}
        # the video's times count the frames it holds: it never saw the lost span
        m = len(keep)
        cam_ts = {c: (ts[0] + np.round(np.arange(m) * PERIOD_NS)).astype(np.int64) for c in cam_ts}
        frames = (a - 1, a + 1)
        ep.meta.segments = []
    elif fault == "nan":
        a = at if at is not None else int(rng.integers(0, n - 3))
        st[a : a + 3, joints[1]] = np.nan
        frames = (a, a + 3)
    elif fault == "glitch":
        a = at if at is not None else int(rng.integers(1, n - 1))
        j = joints[2]
        st[a, j] += 0.8 if st[a, j] < (_LO[j] + _HI[j]) / 2 else -0.8  # toward the centre
        frames = (a, a + 1)
    elif fault == "beyond_limit":
        # a joint's zero is off (a calibration fault): its whole trace sits higher, so its
        # top lies 0.15 rad past the limit
        j = joints[int(rng.integers(len(joints)))]
        shift = _HI[j] + 0.15 - float(np.nanmax(st[:, j]))
        st[:, j] += shift
        ac[:, j] += shift
        over = np.flatnonzero(st[:, j] > _HI[j])
        frames = (int(over[0]), int(over[-1]) + 1)
    elif fault == "dead_joint":
        j = int(joints[int(np.argmax(np.ptp(ac[:, joints], axis=0)))])
        st[:, j] = st[0, j]
        frames = (0, n)
    elif fault == "gripper_chatter":
        g = _GRIP[side]
        k = int(3 * FPS)
        a = at if at is not None else int(rng.integers(0, n - k))
        wave = 0.45 + 0.45 * np.sign(np.sin(np.arange(k) * 2 * np.pi * 2.0 / FPS))
        st[a : a + k, g] = wave
        ac[a : a + k, g] = wave
        frames = (a, a + k)
    elif fault == "command_glitch":
        a = at if at is not None else int(rng.integers(1, n - 1))
        j = joints[3]
        ac[a, j] += 0.8 if ac[a, j] < (_LO[j] + _HI[j]) / 2 else -0.8
        frames = (a, a + 1)
    else:  # camera_ts_swap
        cam = _CAMS[int(rng.integers(3))]
        a = at if at is not None else int(rng.integers(1, n - 2))
        t = cam_ts[cam]
        t[a], t[a + 1] = t[a + 1], t[a]
        frames = (a, a + 2)
    ep.meta.extra = {**ep.meta.extra, "fault": fault}
    bad = Episode(
        meta=ep.meta,
        timestamp_ns=ts,
        features={"state": st, "action": ac},
        images=images,
        image_timestamps_ns=cam_ts,
    )
    return Take(bad, fault, frames)


def corpus(meta: DatasetMeta, *, clean: int, per_fault: int, seed: int = 0) -> Iterator[Take]:
    """``clean`` clean takes, then ``per_fault`` takes of every fault (in :data:`FAULTS`
    order), each from its own take index."""
    for i in range(clean):
        yield Take(clean_take(meta, i, seed=seed), None, None)
    index = clean
    for fault in FAULTS:
        made = 0
        while made < per_fault:
            index += 1
            try:
                take = faulty_take(meta, index, fault, seed=seed)
            except ValueError:
                continue
            made += 1
            yield take
