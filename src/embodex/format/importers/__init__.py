"""Importers from raw recording layouts and other ecosystems into embodex datasets.

``import_recordings(kind, src, out, **options)`` picks one from :data:`IMPORTERS`. Every
importer takes ``sidecar`` (YAML path or mapping: licence, provenance, scenes...),
``skip_bad``, ``append`` and ``on_episode``, and returns an :class:`ImportReport`; some take
more (``topic_map`` for MCAP). Modules are imported only when used, so a missing optional
dependency fails only the importer that needs it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .agibot import import_agibot
from .common import ImportReport, VideoPolicy
from .sidecar import SIDECAR_FILE, load_sidecar

__all__ = [
    "IMPORTERS",
    "SIDECAR_FILE",
    "ImportReport",
    "Importer",
    "VideoPolicy",
    "import_agibot",
    "import_recordings",
    "importer",
    "load_sidecar",
    "video_policy",
]


def video_policy(cameras: str | None, reencode: str | None) -> VideoPolicy | None:
    """The :class:`VideoPolicy` of the ``--cameras``/``--reencode`` flags (None: neither)."""
    if cameras is None and reencode is None:
        return None
    if cameras not in (None, "video", "jpeg") or reencode not in (None, "auto", "always", "never"):
        raise ConfigError(
            f"unknown camera storage {cameras!r} or re-encode policy {reencode!r}",
            hint="cameras: video or jpeg; reencode: auto, always or never (`VideoPolicy`).",
        )
    return VideoPolicy(
        cameras="jpeg" if cameras == "jpeg" else "video",
        reencode="always" if reencode == "always" else "never" if reencode == "never" else "auto",
    )


@dataclass(frozen=True)
class Importer:
    """One source format: where its function lives and what it reads."""

    module: str
    function: str
    description: str

    def load(self) -> Callable[..., ImportReport]:
        fn: Callable[..., ImportReport] = getattr(
            importlib.import_module(f"{__name__}.{self.module}"), self.function
        )
        return fn


IMPORTERS: dict[str, Importer] = {
    "agibot": Importer("agibot", "import_agibot", "AgiBot World raw layout (h5 + MP4 + PNG)"),
    "lerobot": Importer("lerobot", "import_lerobot", "LeRobot v3.0 dataset (parquet, MP4)"),
    "mcap": Importer("mcap", "import_mcap", "ROS 2 MCAP recordings (JointState, images)"),
}


def importer(kind: str) -> Callable[..., ImportReport]:
    """The import function for ``kind``; ``ConfigError`` for an unknown kind."""
    if kind not in IMPORTERS:
        raise ConfigError(
            f"unknown source format {kind!r}", hint=f"Use one of {', '.join(IMPORTERS)}."
        )
    return IMPORTERS[kind].load()


def import_recordings(
    kind: str,
    src: str | Path,
    out: str | Path,
    *,
    anonymise: str | None = None,
    pseudonymise: bool = False,
    pseudonym_scope: str = "",
    **options: Any,
) -> ImportReport:
    """Import ``src`` (format ``kind``) into the embodex dataset ``out``.

    Options the importer does not take raise ``ConfigError`` (e.g. ``topic_map`` for
    anything but ``mcap``); ``None`` values are left out so callers can pass every flag.
    ``anonymise="faces"`` packages into a temporary folder beside ``out`` and writes ``out``
    with every face masked (:func:`embodex.format.anonymise.anonymise_dataset`, default
    settings); the unmasked copy is deleted, so only the anonymised dataset remains.
    ``pseudonymise=True`` likewise replaces every operator id by its keyed pseudonym in
    ``pseudonym_scope`` (a contract id: pseudonyms differ between contracts; "" for the
    centre's one scope), :func:`embodex.format.pseudonyms.pseudonymise_operators`: the
    re-identification table stays in the centre's home, never in ``out``.

    Example::

        report = import_recordings("mcap", "bags/", "datasets/day1",
                                   topic_map="topics.yaml", sidecar="centre.yaml")
        import_recordings("agibot", "raw/", "datasets/week01", anonymise="faces",
                          pseudonymise=True, pseudonym_scope="c-2026-001")
    """
    if pseudonym_scope and not pseudonymise:
        raise ConfigError(
            "a pseudonym scope without pseudonymise",
            hint="Pass `pseudonymise=True` with the scope, or leave the scope out.",
        )
    if anonymise is not None or pseudonymise:
        scope = pseudonym_scope if pseudonymise else None
        return _import_private(kind, src, Path(out), anonymise, scope, options)
    fn = importer(kind)
    given = {k: v for k, v in options.items() if v is not None}
    accepted = inspect.signature(fn).parameters
    if "on_progress" not in accepted:  # a display hook, not a setting: nothing to refuse
        given.pop("on_progress", None)
    unknown = sorted(k for k in given if k not in accepted)
    if unknown:
        raise ConfigError(
            f"the {kind} importer does not take {', '.join(unknown)}",
            hint=f"Leave {', '.join(_option(k) for k in unknown)} out for {kind} sources.",
            field=unknown[0],
        )
    missing = [
        name
        for name, p in list(accepted.items())[2:]  # after src and out
        if p.default is inspect.Parameter.empty and name not in given
    ]
    if missing:
        raise ConfigError(
            f"the {kind} importer needs {', '.join(missing)}",
            hint=f"Pass {', '.join(_option(k) for k in missing)}; see specs/interop.md for the "
            f"{kind} files.",
            field=missing[0],
        )
    return fn(src, out, **given)


def _option(name: str) -> str:
    """An importer argument as code (`` `topic_map=` ``): the CLI shows its flag instead."""
    return f"`{name}=`"


def _import_private(
    kind: str,
    src: str | Path,
    out: Path,
    anonymise: str | None,
    scope: str | None,
    options: dict[str, Any],
) -> ImportReport:
    """Import into a hidden folder beside ``out``, then anonymise and/or pseudonymise into
    ``out``; the raw copies are deleted (also on error), so only the result remains."""
    import dataclasses

    from ..anonymise import anonymise_dataset
    from ..pseudonyms import pseudonymise_operators
    from ..staging_area import StagingArea

    what = "anonymise" if anonymise is not None else "pseudonymise"
    if anonymise is not None and anonymise != "faces":
        raise ConfigError(f"unknown anonymisation {anonymise!r}", hint="Pass anonymise='faces'.")
    if options.get("append"):
        raise ConfigError(
            f"{what} and append cannot be combined",
            hint=f"Import and {what} into a new dataset, then copy_episodes(..., append=True).",
        )
    # the raw copies live beside out (same file system) and never outlive this call
    area = StagingArea.beside(out, "raw")
    raw = Path(area.root)
    notes: list[str] = []
    try:
        report = import_recordings(kind, src, raw / "ds", **options)
        current = raw / "ds"
        if anonymise is not None:
            target = raw / "anonymised" if scope is not None else out
            anonymise_dataset(current, target)
            current = target
            notes.append("faces anonymised (embodex.json extra.privacy.faces)")
        if scope is not None:
            pseudonymise_operators(current, out, scope=scope)
            notes.append(
                f"operator ids pseudonymised (scope {scope or 'centre'}; "
                "embodex.json extra.privacy.pseudonyms)"
            )
    finally:
        area.remove()
    return dataclasses.replace(report, dataset=out, notes=[*report.notes, *notes])
