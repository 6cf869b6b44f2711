"""Shared fixtures: every test gets its own EMBODEX_HOME; small synthetic datasets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embodex.format import Dataset, DatasetMeta
from embodex.synth import synth_dataset, synth_meta

SHORT = (1.0, 2.0)  # seconds per synthetic episode: enough frames, fast tests


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    home = tmp_path_factory.mktemp("embodex-home")
    monkeypatch.setenv("EMBODEX_HOME", str(home))
    monkeypatch.delenv("EMBODEX_CACHE", raising=False)
    monkeypatch.delenv("EMBODEX_DEBUG", raising=False)
    monkeypatch.delenv("EMBODEX_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("EMBODEX_LEDGER_DIR", raising=False)
    yield


@pytest.fixture
def small_meta() -> DatasetMeta:
    return synth_meta(image_size=32, cameras=("head", "hand_left"))


@pytest.fixture
def small_dataset(tmp_path: Path, small_meta: DatasetMeta) -> Dataset:
    return synth_dataset(tmp_path / "ds", 6, seed=7, meta=small_meta, duration_s=SHORT)
