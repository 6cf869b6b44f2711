"""Data classification labels (specs/privacy.md §4c), in the spirit of GB/T 37932 grading.

``embodex.json`` and each episode may carry ``extra.classification``:
``{"personal_information": "none" | "anonymised" | "present", "importance": "general" |
"important" | "core"}``. ``embodex anonymise`` writes ``anonymised``; a dataset without an
explicit label is classified conservatively: ``anonymised`` when it carries the face
anonymisation record, ``present`` when it has a colour camera, else ``none``; importance
``general``.
"""

from __future__ import annotations

from typing import Any, Literal

from .models import DatasetMeta

__all__ = ["CLASSIFICATION_KEY", "IMPORTANCE", "PERSONAL", "classify"]

CLASSIFICATION_KEY = "classification"
PERSONAL = ("none", "anonymised", "present")
IMPORTANCE = ("general", "important", "core")

Personal = Literal["none", "anonymised", "present"]


def classify(meta: DatasetMeta) -> dict[str, str]:
    """The dataset's labels: the explicit ones, or the conservative default."""
    given: Any = meta.extra.get(CLASSIFICATION_KEY)
    label = dict(given) if isinstance(given, dict) else {}
    personal = label.get("personal_information")
    if personal not in PERSONAL:
        faces = (meta.extra.get("privacy") or {}).get("faces")
        colour = any(c.kind == "color" for c in meta.cameras)
        personal = "anonymised" if isinstance(faces, dict) else "present" if colour else "none"
    importance = label.get("importance")
    if importance not in IMPORTANCE:
        importance = "general"
    return {"personal_information": str(personal), "importance": str(importance)}
