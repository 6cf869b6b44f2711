"""The AgiBot importer's sidecar: what the raw layout lacks (licence, provenance, overrides).

Built on the shared sidecar models of :mod:`embodex.format.importers.sidecar` (per-episode
``Overrides``, YAML loading, licence and key checks); this module adds the AgiBot keys
(``fps``, ``cameras``, ``depth``, ``effector_state_range_mm``, ``limits``, ``skill``,
per-task settings). Its keys are documented in specs/format.md §9.1.3 and
specs/schemas/agibot-sidecar.schema.json (generated from :class:`Sidecar`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from ...errors import ConfigError
from ..models import Provenance
from .agibot_layout import DEPTH_CAMERA, camera_name
from .sidecar import Overrides, Strict, parse_sidecar, read_sidecar, require_licence

__all__ = [
    "DEFAULT_EFFECTOR_RANGE_MM",
    "DEFAULT_ROBOT_MODEL",
    "PUBLIC_RELEASE",
    "Limits",
    "Sidecar",
    "resolve_sidecar",
]

DEFAULT_EFFECTOR_RANGE_MM = (0.0, 120.0)
#: Robot type the LeRobot AgiBot port uses for these recordings.
DEFAULT_ROBOT_MODEL = "AgiBot_A2D"

_SLUG = r"^[a-z][a-z0-9_]*$"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")

# Error hints name where the sidecar's keys are documented.
_KEYS_DOC = "specs/format.md §9.1.3 (schema: specs/schemas/agibot-sidecar.schema.json)"


class _Robot(Strict):
    model: str = Field(
        default=DEFAULT_ROBOT_MODEL,
        min_length=1,
        description="Robot model, the embodiment's `model` and every episode's `robot_model`.",
    )
    serial: str | None = Field(
        default=None, description="Robot serial of every episode (an episode may override it)."
    )


class Limits(Strict):
    """Joint limits in the order of the 20 state values (see specs/format.md §9.1)."""

    lower: list[float] | None = Field(default=None, description="20 lower position limits.")
    upper: list[float] | None = Field(default=None, description="20 upper position limits.")
    velocity: list[float] | None = Field(default=None, description="20 velocity limits, unit/s.")


#: Written as ``provenance: agibot-world-public`` for recordings that really are the public
#: AgiBot World release; everyone else names their own centre.
PUBLIC_RELEASE = "agibot-world-public"
_PUBLIC_PROVENANCE = Provenance(
    centre_id="agibot-world",
    centre_name="AgiBot World (public release)",
    contact="https://github.com/OpenDriveLab/AgiBot-World",
)


class H5Stream(Strict):
    """A stream at its own rate read from datasets of ``proprio_stats.h5`` that carry their
    own timestamps (format 1.1, specs/format.md §9.1.2)."""

    timestamps: str = Field(
        min_length=1, description="h5 dataset of the samples' capture times, int64 Unix ns."
    )
    rate_hz: float = Field(gt=0, description="Nominal rate of the stream.")
    fields: dict[str, str] = Field(
        min_length=1,
        description="Feature name -> h5 dataset (one row per timestamp; (N,) or (N, D)).",
    )
    units: dict[str, str] = Field(default_factory=dict, description="Feature name -> unit.")
    description: str | None = None

    @field_validator("fields")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
                raise ValueError(f"stream feature {name!r}: use letters, digits, '_' and '.'")
        return value


class Sidecar(Strict):
    """The sidecar YAML of `embodex package SRC OUT --from agibot` (specs/format.md §9.1.3):
    what the AgiBot World raw layout lacks. Unknown keys are errors."""

    licence: str = Field(
        min_length=1,
        description="Required: an SPDX id or proprietary:<contract ref>; `license` is "
        "accepted too. Never guessed.",
    )
    name: str = Field(default="agibot-world", min_length=1, description="Dataset name.")
    description: str | None = Field(default=None, description="Dataset description.")
    provenance: Provenance | Literal["agibot-world-public"] | None = Field(
        default=None,
        description="Required: who collected the recordings, {centre_id (also the episode id "
        "prefix), centre_name, site, contact}; or `agibot-world-public` for the public "
        "AgiBot World release itself.",
    )
    robot: _Robot = Field(default_factory=_Robot, description="Robot model and serial.")
    fps: float = Field(default=30.0, gt=0, description="Nominal frame rate of the recordings.")
    start_time_ns: int = Field(
        default=0,
        description="Unix ns of the first frame, for recordings without an h5 `timestamp` "
        "(their times are synthesised and flagged).",
    )
    episode_id_prefix: str | None = Field(
        default=None,
        description="Prefix of episode ids `<prefix>:agibot-<task>-<episode>`; default "
        'provenance.centre_id; "" for none.',
    )
    cameras: list[str] | None = Field(
        default=None,
        description="Video stems to import (head_color, ...); default every known camera "
        "found. Declaring an unknown stem imports it.",
    )
    camera_mounts: dict[str, Literal["head", "left_wrist", "right_wrist", "fixed"]] = Field(
        default_factory=dict,
        description="Mount of a camera by video stem (head, left_wrist, right_wrist, fixed); "
        "default from the stem: head_* head, hand_left_* / hand_right_* that wrist, else "
        "fixed. QC judges a still picture against the joints that move the camera.",
    )
    depth: bool = Field(default=True, description="Import depth/head_depth_*.png as head_depth.")
    depth_aligned_to: str | None = Field(
        default="head_color",
        description="The colour camera the head depth is registered to (same size): depth "
        "takes its intrinsics when it has no intrinsics file of its own; null for none.",
    )
    effector_state_range_mm: tuple[float, float] = Field(
        default=DEFAULT_EFFECTOR_RANGE_MM,
        description="[open, closed] gripper reading in mm, mapped to 0..1: "
        "(mm - lo) / (hi - lo), not clipped.",
    )
    effector_state_unit: Literal["mm", "fraction"] = Field(
        default="mm",
        description="How the recorder stores the gripper state: mm (mapped over "
        "effector_state_range_mm) or fraction (0..1, stored as is).",
    )
    effector_state_open: Literal["low", "high"] = Field(
        default="low",
        description="Which end of the gripper reading is open: low (AgiBot's mm grow as it "
        "closes) or high (an opening fraction where 1 is open); embodex stores 0 = open.",
    )
    limits: Limits | None = Field(default=None, description="Joint limits (20 values each).")
    skill: str | dict[str, str] | None = Field(
        default=None,
        description="The skill label of every episode, or a map task id -> skill; default "
        "the slug of the task name.",
    )
    streams: dict[str, H5Stream] = Field(
        default_factory=dict,
        description="Streams at their own rate (format 1.1) from h5 datasets with their own "
        "timestamps: name -> {timestamps, rate_hz, fields, units}.",
    )
    defaults: Overrides = Field(
        default_factory=Overrides, description="Episode settings for every episode."
    )
    tasks: dict[str, Overrides] = Field(
        default_factory=dict, description="Episode settings by task id (over defaults)."
    )
    episodes: dict[str, Overrides] = Field(
        default_factory=dict, description="Episode settings by AgiBot episode id (over tasks)."
    )

    @field_validator("streams")
    @classmethod
    def _stream_names(cls, value: dict[str, H5Stream]) -> dict[str, H5Stream]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"stream name {name!r}: use lower case letters, digits, '_'")
        return value

    @field_validator("skill", "tasks", "episodes", mode="before")
    @classmethod
    def _str_keys(cls, value: Any) -> Any:
        # YAML reads `327:` as an int key; ids are matched as strings.
        if isinstance(value, Mapping):
            return {str(k): v for k, v in value.items()}
        return value

    @field_validator("effector_state_range_mm")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("must be [lo, hi] with lo < hi")
        return value

    @property
    def centre(self) -> Provenance:
        """The provenance (checked present when the sidecar is parsed)."""
        if isinstance(self.provenance, Provenance):
            return self.provenance
        return _PUBLIC_PROVENANCE

    def prefix(self) -> str:
        if self.episode_id_prefix is not None:
            return self.episode_id_prefix
        return self.centre.centre_id

    def overrides(self, task: str, episode: str) -> Overrides:
        """Defaults, then the task's, then the episode's settings; later ones win."""
        layers = (self.defaults, self.tasks.get(task), self.episodes.get(episode))
        out = Overrides.layered(*layers).model_dump(exclude_none=True)
        if "skill" not in out:
            if isinstance(self.skill, str):
                out["skill"] = self.skill
            elif self.skill is not None and task in self.skill:
                out["skill"] = self.skill[task]
        return Overrides.model_validate(out)


def _parse(raw: Mapping[str, Any], where: str) -> Sidecar:
    # The licence is checked first so a sidecar without one gets the fix, not a key error.
    require_licence(raw.get("licence") if "licence" in raw else raw.get("license"), where)
    sidecar = parse_sidecar(Sidecar, raw, where, _KEYS_DOC)
    if sidecar.provenance is None:
        # Never credit someone's recordings to AgiBot World by default (nor prefix their
        # episode ids with it): the centre names itself, or says it is the public release.
        raise ConfigError(
            f"no provenance given ({where})",
            hint="Add `provenance: {centre_id: <your-centre>, centre_name: <Your Centre>}` "
            f"to the sidecar YAML (`sidecar=`) for your own recordings, or `provenance: "
            f"{PUBLIC_RELEASE}` for the public AgiBot World release; see specs/format.md "
            "§9.1.3.",
        )
    for stem in sidecar.cameras or []:
        if not re.fullmatch(_SLUG, camera_name(stem)) or camera_name(stem) == DEPTH_CAMERA:
            raise ConfigError(
                f"sidecar {where}: cameras: {stem!r} does not make a camera name",
                hint="List video file stems such as head_color (lower case, digits, '_').",
            )
    prefix = sidecar.prefix()
    if prefix and not _ID_RE.fullmatch(f"{prefix}:agibot-1-1"):
        raise ConfigError(
            f"sidecar {where}: episode id prefix {prefix!r} is not a valid id",
            hint="Use letters, digits and . _ - (set episode_id_prefix or provenance.centre_id).",
        )
    return sidecar


def resolve_sidecar(src: Path, sidecar: str | Path | Mapping[str, Any] | None) -> Sidecar:
    """The sidecar given (path or mapping), else ``src/embodex-sidecar.yaml``, checked.

    Raises ``ConfigError`` (no licence, an unknown or bad key, a camera stem or episode id
    prefix that makes no valid name).
    """
    return _parse(*read_sidecar(src, sidecar))
