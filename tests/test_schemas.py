"""The committed JSON Schemas in specs/schemas/ are exactly what the models generate."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from embodex.demo.synth import synth_meta
from embodex.schemas import render_schemas

SPEC_DIR = Path(__file__).resolve().parents[1] / "specs" / "schemas"


def test_committed_schemas_match_the_models() -> None:
    rendered = render_schemas()
    committed = {p.name for p in SPEC_DIR.glob("*.schema.json")}
    assert committed == set(rendered), "run `make schemas` and commit specs/schemas/"
    for name, text in rendered.items():
        on_disk = (SPEC_DIR / name).read_text(encoding="utf-8")
        assert on_disk == text, f"specs/schemas/{name} drifted from the code: run `make schemas`"


def test_written_metadata_validates_against_the_schemas(small_dataset) -> None:  # type: ignore[no-untyped-def]
    root = small_dataset.root
    for file, schema in (
        ("embodex.json", "dataset.schema.json"),
        ("manifest.json", "manifest.schema.json"),
        ("stats.json", "stats.schema.json"),
    ):
        jsonschema.validate(
            json.loads((root / file).read_text()),
            json.loads((SPEC_DIR / schema).read_text()),
        )
    episode = json.loads(small_dataset.episode(0).meta.model_dump_json())
    jsonschema.validate(episode, json.loads((SPEC_DIR / "episode.schema.json").read_text()))
    # the schema really constrains: no licence -> invalid
    bad = synth_meta().model_dump(mode="json")
    del bad["licence"]
    try:
        jsonschema.validate(bad, json.loads((SPEC_DIR / "dataset.schema.json").read_text()))
    except jsonschema.ValidationError as exc:
        assert "licence" in exc.message
    else:
        raise AssertionError("a dataset without licence validated")
