"""The sidecar YAML every importer reads: what recordings lack (licence, centre, scenes...).

Each importer has its own top-level model (AgiBot adds task-level settings, MCAP and LeRobot
share :class:`CommonSidecar`); the per-episode settings (:class:`Overrides`) and the parsing
rules are the same for all: unknown keys fail loudly, ``license`` is accepted for
``licence``, and no licence is ever guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...errors import ConfigError
from ...parsing import load_yaml, read_text
from ..models import Provenance

__all__ = [
    "SIDECAR_FILE",
    "CommonSidecar",
    "Operator",
    "Overrides",
    "Scene",
    "Strict",
    "load_sidecar",
    "overrides_fields",
    "parse_sidecar",
    "read_sidecar",
    "require_licence",
    "resolve_common_sidecar",
]

#: The sidecar looked for beside the recordings when none is given.
SIDECAR_FILE = "embodex-sidecar.yaml"

_SLUG = r"^[a-z][a-z0-9_]*$"
M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    # extra="forbid": a misspelt key must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid")


class Scene(Strict):
    scene_id: str | None = Field(default=None, description="The centre's scene id.")
    scene_type: str | None = Field(
        default=None, pattern=_SLUG, description="Lower-case slug: restaurant, home, ..."
    )
    site: str | None = Field(default=None, description="Site; default provenance.site.")
    lighting: str | None = Field(default=None, description="Lighting, e.g. warm, daylight.")
    objects: list[str] | None = Field(default=None, description="Objects in the scene.")


class Operator(Strict):
    id: str | None = Field(default=None, description="Pseudonymous operator id (never a name).")
    level: str | None = Field(default=None, description="Operator certification level.")


class Overrides(Strict):
    """Per-episode settings; layered defaults → (task) → episode, later ones win."""

    scene: Scene | None = Field(default=None, description="Scene fields of the episodes.")
    operator: Operator | None = Field(default=None, description="Who teleoperated.")
    robot_serial: str | None = Field(default=None, description="Serial of the robot used.")
    success: bool | None = Field(default=None, description="Task success label.")
    failure_cause: str | None = Field(default=None, description="Why the task failed.")
    skill: str | None = Field(default=None, description="Skill label.")
    instruction_en: str | None = Field(default=None, description="Instruction in English.")
    instruction_zh: str | None = Field(default=None, description="Instruction in Chinese.")
    start_time_ns: int | None = Field(
        default=None, description="Unix ns of the first frame, for recordings without times."
    )

    @classmethod
    def layered(cls, *layers: Overrides | None) -> Overrides:
        """Merge layers key by key (scene and operator field by field)."""
        out: dict[str, Any] = {}
        for layer in layers:
            if layer is None:
                continue
            for key, value in layer.model_dump(exclude_none=True).items():
                if key in ("scene", "operator") and key in out:
                    out[key] = {**out[key], **value}
                else:
                    out[key] = value
        return cls.model_validate(out)


def overrides_fields(ov: Overrides) -> dict[str, Any]:
    """The ``EpisodeMeta`` fields an ``Overrides`` sets (only those it sets)."""
    scene = ov.scene or Scene()
    operator = ov.operator or Operator()
    fields: dict[str, Any] = {
        "scene_id": scene.scene_id,
        "scene_type": scene.scene_type,
        "site": scene.site,
        "lighting": scene.lighting,
        "objects": scene.objects,
        "operator_id": operator.id,
        "operator_level": operator.level,
        "robot_serial": ov.robot_serial,
        "success": ov.success,
        "failure_cause": ov.failure_cause,
        "skill": ov.skill,
        "instruction_en": ov.instruction_en,
        "instruction_zh": ov.instruction_zh,
    }
    return {k: v for k, v in fields.items() if v is not None}


class Robot(Strict):
    model: str | None = Field(default=None, min_length=1)
    serial: str | None = None
    units: str | list[str] | None = Field(
        default=None, description="Unit of each joint (rad, m, 1), or one for all."
    )


class CommonSidecar(Strict):
    """The sidecar of the LeRobot and MCAP importers. ``licence`` is required unless the
    source itself names one (a LeRobot dataset card, an embodex export)."""

    licence: str | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, min_length=1)
    description: str | None = None
    provenance: Provenance | None = None
    robot: Robot = Field(default_factory=Robot)
    start_time_ns: int = 0
    episode_id_prefix: str | None = None
    defaults: Overrides = Field(default_factory=Overrides)
    episodes: dict[str, Overrides] = Field(default_factory=dict)

    @field_validator("episodes", mode="before")
    @classmethod
    def _str_keys(cls, value: Any) -> Any:
        # YAML reads `12:` as an int key; episode keys are matched as strings.
        if isinstance(value, Mapping):
            return {str(k): v for k, v in value.items()}
        return value

    def overrides(self, key: str) -> Overrides:
        return Overrides.layered(self.defaults, self.episodes.get(key))


def load_sidecar(path: str | Path | None) -> dict[str, Any]:
    """Read a sidecar YAML file into a dict (``{}`` for ``None`` or an empty file).

    Only the YAML is checked here; each importer checks the keys. Raises ``ConfigError``
    when the file is missing, is not YAML or is not a mapping.
    """
    if path is None:
        return {}
    p = Path(path)
    text = read_text(
        p,
        error=ConfigError,
        name=f"sidecar {p}",
        missing_hint="Check the path, or write one (the README lists its keys).",
    )
    data = load_yaml(text, error=ConfigError, name=f"sidecar {p}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"sidecar {p} must be a YAML mapping, not a {type(data).__name__}",
            hint="Write it as `key: value` lines, e.g. `licence: CC-BY-4.0`.",
        )
    return {str(k): v for k, v in data.items()}


def parse_sidecar(model: type[M], raw: Mapping[str, Any], where: str, keys_doc: str) -> M:
    """Validate ``raw`` against ``model``; ``license`` is read as ``licence``.

    Raises ``ConfigError`` naming the first bad key (``keys_doc`` says where keys are listed).
    """
    data = dict(raw)
    if "licence" not in data and "license" in data:
        data["licence"] = data.pop("license")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(
            f"sidecar {where}: {loc}: {first['msg']}{more}",
            hint=f"Fix that key of the sidecar YAML; the keys are listed in {keys_doc}.",
        ) from None


def require_licence(licence: str | None, where: str) -> str:
    """The licence, or a ``ConfigError`` saying how to give one."""
    if not licence:
        raise ConfigError(
            f"no licence given ({where})",
            hint="Add `licence: <SPDX id or proprietary:<ref>>` to the sidecar YAML (`sidecar=`), "
            "e.g. `licence: CC-BY-NC-SA-4.0`; embodex never guesses a licence.",
        )
    return licence


def read_sidecar(
    folder: Path, sidecar: str | Path | Mapping[str, Any] | None
) -> tuple[dict[str, Any], str]:
    """The sidecar's keys and where they came from (for messages).

    ``sidecar`` is a mapping or a YAML path; without one, ``folder/embodex-sidecar.yaml`` is
    read when it exists, else the keys are empty. Raises ``ConfigError`` as
    :func:`load_sidecar` does.
    """
    if isinstance(sidecar, Mapping):
        return dict(sidecar), "sidecar mapping"
    if sidecar is not None:
        return load_sidecar(sidecar), str(sidecar)
    default = folder / SIDECAR_FILE
    if default.is_file():
        return load_sidecar(default), str(default)
    return {}, f"no sidecar given and no {default}"


def resolve_common_sidecar(
    folder: Path, sidecar: str | Path | Mapping[str, Any] | None, keys_doc: str
) -> CommonSidecar:
    """The sidecar given (path or mapping), else ``folder/embodex-sidecar.yaml``, else empty."""
    raw, where = read_sidecar(folder, sidecar)
    return parse_sidecar(CommonSidecar, raw, where, keys_doc)
