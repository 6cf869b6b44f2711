"""QC profiles: versioned YAML files of rules and thresholds, identified by their digest.

A profile lists every rule with all its parameters (the shipped ``humanoid-30fps`` profile
is the reference). A profile file may instead start from another with ``extends:`` and
override a few values; the digest is taken over the resolved content, so it names exactly
the thresholds that were applied. Contracts reference a profile by that digest.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from ..canonical import digest_json
from ..errors import ProfileError
from ..parsing import BoundedYamlLoader, load_yaml, read_text
from ..units import plural
from .robot import RobotFacts
from .rules import RULES, RuleParams

__all__ = [
    "DEFAULT_PROFILE",
    "ImageSampling",
    "Profile",
    "ReviewPlan",
    "builtin_profiles",
    "default_profile",
    "load_profile",
    "parse_overrides",
]

DEFAULT_PROFILE = "humanoid-30fps"
_MAX_EXTENDS = 8


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageSampling(_Strict):
    """How many frames per camera and episode the image rules check in ``sample`` mode."""

    sample_frames: int = Field(ge=1, le=10_000)
    min_event_s: float = Field(
        default=2.0,
        gt=0,
        description="Coverage guarantee of sample mode: a black, white or frozen stretch of "
        "a camera lasting at least this long is always among the checked frames.",
    )


class ReviewPlan(_Strict):
    """Which PASS episodes go to manual review (all WARNs always do); see specs/qc.md."""

    pass_sample_rate: float = Field(ge=0, le=1)
    min_pass_per_operator: int = Field(ge=0)


class Profile(_Strict):
    """A QC profile. ``rules`` maps every rule id to its parameters.

    Use :func:`default_profile` or :func:`load_profile`; ``params(rule_id)`` gives a rule's
    typed parameters, ``digest`` the profile's identity.
    """

    kind: Literal["embodex.qc-profile"] = "embodex.qc-profile"
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    version: int = Field(ge=1)
    description: str = ""
    nominal_fps: float = Field(gt=0)
    images: ImageSampling
    review: ReviewPlan
    robot: RobotFacts = Field(default_factory=RobotFacts)
    rules: dict[str, dict[str, Any]]

    _params: dict[str, RuleParams] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_rules(self) -> Profile:
        unknown = sorted(set(self.rules) - set(RULES))
        if unknown:
            raise ValueError(f"unknown {plural('rule', len(unknown))}: {', '.join(unknown)}")
        missing = [r for r in RULES if r not in self.rules]
        if missing:
            raise ValueError(
                f"{plural('rule', len(missing))} not configured: {', '.join(missing)} (list every "
                f"rule, or start "
                f"the file with `extends: {DEFAULT_PROFILE}`)"
            )
        params: dict[str, RuleParams] = {}
        for rule_id, spec in RULES.items():
            try:
                params[rule_id] = spec.params.model_validate(self.rules[rule_id] or {})
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(x) for x in first["loc"])
                where = f".{where}" if where else ""
                raise ValueError(f"rule {rule_id}{where}: {first['msg']}") from None
        # store the normalised parameters (defaults such as enabled filled in), in rule order
        object.__setattr__(self, "rules", {r: params[r].model_dump(mode="json") for r in RULES})
        self._params = params
        return self

    def params(self, rule_id: str) -> RuleParams:
        """The typed parameters of one rule."""
        return self._params[rule_id]

    @property
    def content(self) -> dict[str, Any]:
        """The profile as plain JSON data (what the digest covers)."""
        return self.model_dump(mode="json")

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the RFC 8785 canonical JSON of :attr:`content`."""
        return digest_json(self.content)

    def enabled_rules(self) -> list[str]:
        return [r for r in RULES if self._params[r].enabled]

    def with_overrides(self, overrides: Mapping[str, Any]) -> Profile:
        """A copy with values replaced: keys ``rule.id.param`` (``timing.gap.fail``),
        ``nominal_fps``, ``images.<field>``, ``review.<field>`` or ``robot.<part>.<name>``
        (``robot.limits.waist_lift: [0, 0.5]``).

        Raises ``ProfileError`` for unknown keys or invalid values.
        """
        data = copy.deepcopy(self.content)
        for key, value in overrides.items():
            _set_path(data, key, value)
        return _validate(data, "overrides")

    def to_json(self) -> dict[str, Any]:
        """The resolved profile and its digest (``embodex qc profile --json``)."""
        return {"digest": self.digest, "profile": self.content}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.content, sort_keys=False, allow_unicode=True, width=100)


def _set_path(data: dict[str, Any], key: str, value: Any) -> None:
    if key in ("nominal_fps", "description", "id", "version"):
        data[key] = value
        return
    if key.startswith("robot."):
        # robot.limits.<joint>, robot.velocity_limits.<joint>, robot.camera_mounts.<camera>
        _, part, name = [*key.split(".", 2), "", ""][:3]
        if part not in ("limits", "velocity_limits", "camera_mounts") or not name:
            raise ProfileError(
                f"unknown profile key {key!r}",
                hint="Use robot.limits.<joint>=[lo, hi], robot.velocity_limits.<joint>=V or "
                "robot.camera_mounts.<camera>=left_wrist.",
            )
        data.setdefault("robot", {}).setdefault(part, {})[name] = value
        return
    head, _, tail = key.rpartition(".")
    if head in ("images", "review"):
        data[head][tail] = value
        return
    if head not in RULES:
        raise ProfileError(
            f"unknown profile key {key!r}",
            hint="Use rule.id.param (e.g. timing.gap.fail=250), nominal_fps, "
            "images.sample_frames or review.pass_sample_rate.",
        )
    data["rules"][head][tail] = value


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["timing.gap.fail=250", "numeric.jerk.warn=null"]`` -> override mapping (values are
    YAML scalars or lists)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ProfileError(
                f"override {item!r} is not KEY=VALUE",
                hint="Write RULE.PARAM=VALUE, e.g. `timing.gap.fail=250`.",
            )
        try:
            out[key.strip()] = yaml.load(text, Loader=BoundedYamlLoader)  # safe
        except yaml.YAMLError as exc:
            raise ProfileError(f"override {item!r}: value is not valid YAML ({exc})") from None
    return out


def _validate(data: Mapping[str, Any], where: str) -> Profile:
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise ProfileError(f"QC profile {where}: {loc + ': ' if loc else ''}{msg}") from None


def builtin_profiles() -> list[str]:
    """Ids of the profiles shipped with embodex."""
    folder = resources.files(__package__).joinpath("profiles")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def _builtin_text(name: str) -> str:
    path = resources.files(__package__).joinpath("profiles", f"{name}.yaml")
    if not path.is_file():
        raise ProfileError(
            f"no built-in QC profile {name!r}",
            hint=f"Built-in profiles: {', '.join(builtin_profiles())}; or give a file path.",
        )
    return path.read_text(encoding="utf-8")


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    data = load_yaml(text, error=ProfileError, name=f"QC profile {where}")
    if not isinstance(data, dict):
        raise ProfileError(f"QC profile {where} must be a YAML mapping")
    return data


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if key == "rules" and isinstance(value, Mapping):
            for rule, params in value.items():
                if not isinstance(params, Mapping):
                    raise ProfileError(f"rule {rule}: parameters must be a mapping")
                out.setdefault("rules", {}).setdefault(rule, {}).update(params)
        elif key in ("images", "review") and isinstance(value, Mapping):
            out.setdefault(key, {}).update(value)
        elif key == "robot" and isinstance(value, Mapping):
            # limits, velocity_limits, camera_mounts: merged name by name
            robot = out.setdefault("robot", {})
            for part, entries in value.items():
                if isinstance(entries, Mapping) and isinstance(robot.get(part), Mapping):
                    robot[part] = {**robot[part], **entries}
                else:
                    robot[part] = entries
        else:
            out[key] = value
    return out


def _resolve(data: dict[str, Any], where: Path | None, depth: int = 0) -> dict[str, Any]:
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if depth >= _MAX_EXTENDS:
        raise ProfileError(f"QC profile {where}: `extends` chain is too long (a loop?)")
    parent = str(parent)
    candidate = (where.parent / parent) if where is not None else Path(parent)
    if parent.endswith((".yaml", ".yml")) and candidate.is_file():
        base = _resolve(
            _read_yaml(read_text(candidate, error=ProfileError), str(candidate)),
            candidate,
            depth + 1,
        )
    else:
        base = _resolve(_read_yaml(_builtin_text(parent), parent), None, depth + 1)
    return _merge(base, data)


def load_profile(path: str | Path) -> Profile:
    """Load a profile from a YAML file, or a built-in one by id (``humanoid-30fps``).

    Raises ``ProfileError`` naming the file and the bad rule or parameter.

    Example::

        profile = load_profile("contracts/acme-qc.yaml")   # extends: humanoid-30fps
        print(profile.id, profile.version, profile.digest)
    """
    p = Path(path)
    if not p.exists() and str(path) in builtin_profiles():
        return _validate(_resolve(_read_yaml(_builtin_text(str(path)), str(path)), None), str(path))
    if not p.is_file():
        raise ProfileError(
            f"QC profile {p} does not exist",
            hint=f"Give a YAML file or a built-in profile ({', '.join(builtin_profiles())}).",
        )
    data = _read_yaml(read_text(p, error=ProfileError, name=f"QC profile {p}"), str(p))
    return _validate(_resolve(data, p), str(p))


_DEFAULT: Profile | None = None


def default_profile() -> Profile:
    """The shipped profile for 30 fps humanoid teleoperation (``humanoid-30fps``)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_profile(DEFAULT_PROFILE)
    return _DEFAULT
