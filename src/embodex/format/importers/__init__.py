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
            hint="--cameras video|jpeg, --reencode auto|always|never.",
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


def import_recordings(kind: str, src: str | Path, out: str | Path, **options: Any) -> ImportReport:
    """Import ``src`` (format ``kind``) into the embodex dataset ``out``.

    Options the importer does not take raise ``ConfigError`` (e.g. ``topic_map`` for
    anything but ``mcap``); ``None`` values are left out so callers can pass every flag.

    Example::

        report = import_recordings("mcap", "bags/", "datasets/day1",
                                   topic_map="topics.yaml", sidecar="centre.yaml")
    """
    fn = importer(kind)
    given = {k: v for k, v in options.items() if v is not None}
    accepted = inspect.signature(fn).parameters
    unknown = sorted(_option(k) for k in given if k not in accepted)
    if unknown:
        raise ConfigError(
            f"--from {kind} does not take {', '.join(unknown)}",
            hint=f"Leave {', '.join(unknown)} out for {kind} sources.",
        )
    missing = [
        _option(name)
        for name, p in list(accepted.items())[2:]  # after src and out
        if p.default is inspect.Parameter.empty and name not in given
    ]
    if missing:
        raise ConfigError(
            f"--from {kind} needs {', '.join(missing)}",
            hint=f"Pass {', '.join(missing)}; see specs/interop.md for the {kind} files.",
        )
    return fn(src, out, **given)


#: The CLI flag of each importer option, so one message serves the SDK and the CLI.
_FLAGS = {
    "topic_map": "--map",
    "sidecar": "--meta",
    "skip_bad": "--skip-bad",
    "video": "--cameras/--reencode",
    "ray": "--ray",
}


def _option(name: str) -> str:
    flag = _FLAGS.get(name)
    return f"{name} ({flag})" if flag else name
