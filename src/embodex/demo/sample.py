"""``embodex synth`` in one call: a demo dataset or raw recordings in one of three layouts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Layout", "SynthResult", "make_sample"]

Layout = Literal["embodex", "agibot", "mcap"]


@dataclass(frozen=True)
class SynthResult:
    """What :func:`make_sample` wrote. ``in_dataset``, ``hours`` and ``digest`` describe the
    packaged dataset (embodex layout only; None for raw recordings)."""

    layout: Layout
    path: str
    episodes: int
    in_dataset: int | None = None
    hours: float | None = None
    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"layout": self.layout, "path": self.path, "episodes": self.episodes}
        if self.layout == "embodex":
            data |= {"in_dataset": self.in_dataset, "hours": self.hours, "digest": self.digest}
        return data


def make_sample(
    out: str | Path,
    *,
    layout: Layout = "embodex",
    episodes: int = 20,
    seed: int = 0,
    duration_s: tuple[float, float] = (8.0, 20.0),
    image_size: int = 96,
    depth: bool = False,
    append: bool = False,
    first_index: int = 0,
    on_episode: Callable[[Any], None] | None = None,
) -> SynthResult:
    """Write seeded demo data: a packaged dataset (``embodex``), raw recordings in the AgiBot
    World layout (``agibot``, at 30 fps) or ROS 2 MCAP recordings (``mcap``, every episode
    the mean of ``duration_s`` long). Same seed, same bytes."""
    if layout == "agibot":
        from .raw import write_agibot_sample

        frames = (round(duration_s[0] * 30), round(duration_s[1] * 30))  # recorded at 30 fps
        root = write_agibot_sample(out, episodes=episodes, seed=seed, depth=depth, frames=frames)
        return SynthResult("agibot", str(root), episodes)
    if layout == "mcap":
        from .mcap import write_mcap_sample

        lo, hi = duration_s
        root = write_mcap_sample(out, episodes=episodes, seed=seed, duration_s=(lo + hi) / 2)
        return SynthResult("mcap", str(root), episodes)
    from .synth import synth_dataset, synth_meta

    ds = synth_dataset(
        out,
        episodes,
        seed=seed,
        meta=synth_meta(image_size=image_size, depth=depth),
        duration_s=duration_s,
        append=append,
        first_index=first_index,
        on_episode=on_episode,
    )
    return SynthResult("embodex", str(out), episodes, len(ds), ds.hours, ds.digest)
