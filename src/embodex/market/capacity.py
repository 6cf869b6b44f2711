"""Collection capacity: how many deliverable hours per week the centre can record per scene.

The capacity file names scenes by id (the centre's own catalogue of scenes, by default the
23 training scenes of the reference case in :data:`embodex.format.reference.SCENES`) and may
describe scenes of its own. Matching (``matching.py``) spends this capacity week by week.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ..errors import PriceSheetError
from ..format.reference import SCENES
from ..trust.types import Hours, Identifier, IsoDate, NonEmpty, Slug, TrustModel
from .yamlfile import load_yaml_model

__all__ = ["Capacity", "SceneInfo", "builtin_scenes", "load_capacity"]


class SceneInfo(TrustModel):
    """A scene the centre can record in: id, type, what it looks like."""

    scene_id: Identifier
    scene_type: Slug
    description: NonEmpty | None = None
    lighting: str | None = None
    objects: list[str] = Field(default_factory=list)


def builtin_scenes() -> list[SceneInfo]:
    """The 23 training scenes of the reference centre (supermarket, restaurant, factory...)."""
    return [
        SceneInfo(
            scene_id=s.scene_id,
            scene_type=s.scene_type,
            description=s.description,
            lighting=s.lighting,
            objects=list(s.objects),
        )
        for s in SCENES
    ]


class Capacity(TrustModel):
    """``kind: embodex.capacity``: deliverable hours per week per scene id.

    Hours are net of QC: what the centre expects to pass acceptance. Scenes not listed have
    no capacity. ``scenes`` adds scenes to (or redescribes scenes of) the built-in catalogue.

    Example::

        cap = load_capacity("capacity.yaml")
        cap.hours_per_week["S04"]          # Decimal('12')
    """

    kind: Literal["embodex.capacity"] = "embodex.capacity"
    available_from: IsoDate | None = Field(
        default=None, description="First day collection can start (default: the demand's start)."
    )
    hours_per_week: dict[Identifier, Hours] = Field(default_factory=dict)
    scenes: list[SceneInfo] = Field(default_factory=list)
    use_builtin_scenes: bool = Field(
        default=True,
        description="Start from the 23 built-in scenes (embodex.format.reference.SCENES).",
    )

    @model_validator(mode="after")
    def _known_scenes(self) -> Capacity:
        ids = [s.scene_id for s in self.scenes]
        if len(set(ids)) != len(ids):
            raise ValueError("scenes: a scene id is listed twice")
        known = {s.scene_id for s in self.scene_catalogue()}
        unknown = sorted(set(self.hours_per_week) - known)
        if unknown:
            raise ValueError(
                f"hours_per_week names scenes not in the catalogue: {', '.join(unknown)} "
                "(describe them under `scenes`)"
            )
        return self

    def scene_catalogue(self) -> list[SceneInfo]:
        """Built-in scenes (unless switched off) updated and extended by ``scenes``."""
        out = {s.scene_id: s for s in builtin_scenes()} if self.use_builtin_scenes else {}
        for s in self.scenes:
            out[s.scene_id] = s
        return sorted(out.values(), key=lambda s: s.scene_id)

    def weekly(self, scene_id: str) -> Decimal:
        return self.hours_per_week.get(scene_id, Decimal(0))


def load_capacity(path: str | Path | None) -> Capacity:
    """A capacity YAML file; ``None`` gives no capacity (stock only) over the built-in scenes.

    Raises :class:`PriceSheetError` naming the field at fault.
    """
    if path is None:
        return Capacity()
    return load_yaml_model(path, Capacity, error=PriceSheetError)
