"""The AgiBot importer's sidecar: what the raw layout lacks (licence, provenance, overrides).

Its keys are documented in :mod:`embodex.format.importers.agibot`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...errors import ConfigError
from ..models import Provenance
from .agibot_layout import DEPTH_CAMERA, camera_name

__all__ = [
    "DEFAULT_EFFECTOR_RANGE_MM",
    "DEFAULT_ROBOT_MODEL",
    "SIDECAR_FILE",
    "Limits",
    "Operator",
    "Overrides",
    "Scene",
    "Sidecar",
    "load_sidecar",
    "parse_sidecar",
    "resolve_sidecar",
]

#: The sidecar looked for in the source folder when none is given.
SIDECAR_FILE = "embodex-sidecar.yaml"

DEFAULT_EFFECTOR_RANGE_MM = (0.0, 120.0)
#: Robot type the LeRobot AgiBot port uses for these recordings.
DEFAULT_ROBOT_MODEL = "AgiBot_A2D"

_SLUG = r"^[a-z][a-z0-9_]*$"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")

# Error hints name the module whose docstring lists the sidecar's keys.
_KEYS_DOC = "embodex.format.importers.agibot"


class _Strict(BaseModel):
    # extra="forbid": a misspelt key must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid")


class Scene(_Strict):
    scene_id: str | None = None
    scene_type: str | None = Field(default=None, pattern=_SLUG)
    site: str | None = None
    lighting: str | None = None
    objects: list[str] | None = None


class Operator(_Strict):
    id: str | None = None
    level: str | None = None


class Overrides(_Strict):
    scene: Scene | None = None
    operator: Operator | None = None
    robot_serial: str | None = None
    success: bool | None = None
    failure_cause: str | None = None
    skill: str | None = None
    instruction_en: str | None = None
    instruction_zh: str | None = None
    start_time_ns: int | None = None


class _Robot(_Strict):
    model: str = Field(default=DEFAULT_ROBOT_MODEL, min_length=1)
    serial: str | None = None


class Limits(_Strict):
    lower: list[float] | None = None
    upper: list[float] | None = None
    velocity: list[float] | None = None


def _default_provenance() -> Provenance:
    return Provenance(centre_id="agibot-world", centre_name="AgiBot World")


class Sidecar(_Strict):
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
        out: dict[str, Any] = {}
        layers = [self.defaults, self.tasks.get(task), self.episodes.get(episode)]
        for layer in layers:
            if layer is None:
                continue
            for key, value in layer.model_dump(exclude_none=True).items():
                if key in ("scene", "operator") and key in out:
                    out[key] = {**out[key], **value}
                else:
                    out[key] = value
        if "skill" not in out:
            if isinstance(self.skill, str):
                out["skill"] = self.skill
            elif self.skill is not None and task in self.skill:
                out["skill"] = self.skill[task]
        return Overrides.model_validate(out)


def load_sidecar(path: str | Path | None) -> dict[str, Any]:
    """Read a sidecar YAML file into a dict (``{}`` for ``None`` or an empty file).

    Only the YAML is checked here; ``import_agibot`` checks the keys. Raises ``ConfigError``
    when the file is missing, is not YAML or is not a mapping.
    """
    if path is None:
        return {}
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"sidecar {p} does not exist",
            hint=f"Check the path, or write one (see {_KEYS_DOC} for its keys).",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"sidecar {p} cannot be read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"sidecar {p} is not valid YAML: {first}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"sidecar {p} must be a YAML mapping, not a {type(data).__name__}",
            hint="Write it as `key: value` lines, e.g. `licence: CC-BY-4.0`.",
        )
    return {str(k): v for k, v in data.items()}


def parse_sidecar(raw: Mapping[str, Any], where: str) -> Sidecar:
    data = dict(raw)
    if "licence" not in data and "license" in data:
        data["licence"] = data.pop("license")
    if not data.get("licence"):
        raise ConfigError(
            f"no licence given ({where})",
            hint="Add `licence: <SPDX id or proprietary:<ref>>` to the sidecar YAML, e.g. "
            "`licence: CC-BY-NC-SA-4.0`; embodex never guesses a licence.",
        )
    try:
        sidecar = Sidecar.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(
            f"sidecar {where}: {loc}: {first['msg']}{more}",
            hint=f"Fix that key of the sidecar YAML; the keys are listed in {_KEYS_DOC}.",
        ) from None
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
    if isinstance(sidecar, Mapping):
        return parse_sidecar(sidecar, "sidecar mapping")
    if sidecar is not None:
        return parse_sidecar(load_sidecar(sidecar), str(sidecar))
    default = src / SIDECAR_FILE
    if default.is_file():
        return parse_sidecar(load_sidecar(default), str(default))
    return parse_sidecar({}, f"no sidecar given and no {default}")
