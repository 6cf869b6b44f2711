"""``--where FIELD=VALUE`` conditions, typed by the episode table (embodex.format.selection),
and the typed summary ``embodex inspect`` renders."""

from __future__ import annotations

import pytest

from embodex.errors import ConfigError, SchemaError
from embodex.format import Dataset
from embodex.format.selection import parse_conditions, select_where


def test_values_take_their_columns_type(small_dataset: Dataset) -> None:
    ds = small_dataset
    skill = ds.episodes.column("skill")[0].as_py()
    frames = ds.episodes.column("frame_count")[0].as_py()
    got = parse_conditions(ds, [f"skill={skill}", "success=TRUE", f"frame_count={frames}"])
    assert got == {"skill": skill, "success": True, "frame_count": frames}
    chosen = select_where(ds, [f"skill={skill}"])
    assert 0 < len(chosen) <= len(ds)
    assert set(chosen.episodes.column("skill").to_pylist()) == {skill}
    assert len(select_where(ds.root)) == len(ds)  # no condition: every episode


def test_bad_conditions_are_config_errors(small_dataset: Dataset) -> None:
    with pytest.raises(ConfigError, match="is not FIELD=VALUE"):
        parse_conditions(small_dataset, ["skill"])
    with pytest.raises(ConfigError, match="'maybe' is not a bool"):
        parse_conditions(small_dataset, ["success=maybe"])
    with pytest.raises(SchemaError, match="no such episode field"):
        select_where(small_dataset, ["colour=red"])


def test_the_typed_summary_holds_every_figure_of_summarize(small_dataset: Dataset) -> None:
    import dataclasses

    from embodex.format.summary import DatasetSummary, inspect_dataset, summarize

    fields = [f.name for f in dataclasses.fields(DatasetSummary)]
    assert fields == [*summarize(small_dataset), "episode_list"]  # same keys, same order
    s = inspect_dataset(small_dataset.root)
    assert s.to_json() == summarize(small_dataset)  # no episode list unless asked
    listed = inspect_dataset(small_dataset, episodes=True)
    assert [r["episode_id"] for r in listed.episode_list or []] == small_dataset.episode_ids
