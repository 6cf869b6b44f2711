"""The AgiBot importer's sidecar: what the raw layout lacks (licence, provenance, overrides).

Built on the shared sidecar models of :mod:`embodex.format.importers.sidecar` (per-episode
``Overrides``, YAML loading, licence and key checks); this module adds the AgiBot keys
(``fps``, ``cameras``, ``depth``, ``effector_state_range_mm``, ``limits``, ``skill``,
per-task settings). Its keys are documented in :mod:`embodex.format.importers.agibot`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from ...errors import ConfigError
from ..models import Provenance
from .agibot_layout import DEPTH_CAMERA, camera_name
from .sidecar import Overrides, Strict, parse_sidecar, read_sidecar, require_licence

__all__ = [
    "DEFAULT_EFFECTOR_RANGE_MM",
    "DEFAULT_ROBOT_MODEL",
    "Limits",
    "Sidecar",
    "resolve_sidecar",
]

DEFAULT_EFFECTOR_RANGE_MM = (0.0, 120.0)
#: Robot type the LeRobot AgiBot port uses for these recordings.
DEFAULT_ROBOT_MODEL = "AgiBot_A2D"

_SLUG = r"^[a-z][a-z0-9_]*$"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")

# Error hints name the module whose docstring lists the sidecar's keys.
_KEYS_DOC = "embodex.format.importers.agibot"


class _Robot(Strict):
    model: str = Field(default=DEFAULT_ROBOT_MODEL, min_length=1)
    serial: str | None = None


class Limits(Strict):
    lower: list[float] | None = None
    upper: list[float] | None = None
    velocity: list[float] | None = None


def _default_provenance() -> Provenance:
    return Provenance(centre_id="agibot-world", centre_name="AgiBot World")


class Sidecar(Strict):
    licence: str = Field(min_length=1)
    name: str = Field(default="agibot-world", min_length=1)
    description: str | None = None
    provenance: Provenance = Field(default_factory=_default_provenance)
    robot: _Robot = Field(default_factory=_Robot)
    fps: float = Field(default=30.0, gt=0)
    start_time_ns: int = 0
    episode_id_prefix: str | None = None
    cameras: list[str] | None = None
    depth: bool = True
    depth_aligned_to: str | None = "head_color"
    effector_state_range_mm: tuple[float, float] = DEFAULT_EFFECTOR_RANGE_MM
    limits: Limits | None = None
    skill: str | dict[str, str] | None = None
    defaults: Overrides = Field(default_factory=Overrides)
    tasks: dict[str, Overrides] = Field(default_factory=dict)
    episodes: dict[str, Overrides] = Field(default_factory=dict)

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

    def prefix(self) -> str:
        if self.episode_id_prefix is not None:
            return self.episode_id_prefix
        return self.provenance.centre_id

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
