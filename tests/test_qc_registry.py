"""QC rule families register their checks: the runner loops over the registry."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from embodex.format import Dataset
from embodex.qc import rules as rule_families
from embodex.qc import run_qc
from embodex.qc.chunk import Chunk
from embodex.qc.rules import CHUNK_CHECKS, FAMILIES, RULES, Plan

ROOT = Path(__file__).resolve().parents[1]


def test_every_family_that_reads_frames_is_registered() -> None:
    names = [check.__module__.rsplit(".", 1)[-1] for check in CHUNK_CHECKS]
    assert names == ["integrity", "timing", "numeric", "motion", "images"]
    assert {rid.split(".")[0] for rid in RULES} == set(FAMILIES)


def test_the_runner_names_no_family_check() -> None:
    tree = ast.parse((ROOT / "src/embodex/qc/runner.py").read_text(encoding="utf-8"))
    called = {
        node.func.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "check_chunk"
        and isinstance(node.func.value, ast.Name)
    }
    assert called == set()


def test_a_registered_check_runs_on_every_chunk(
    small_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def spy(plan: Plan, chunk: Chunk) -> None:
        seen.extend(chunk.ids)
        assert plan.images is not None and not plan.images.all_frames

    import embodex.qc.runner as runner

    monkeypatch.setattr(runner, "CHUNK_CHECKS", (*rule_families.CHUNK_CHECKS, spy))
    result = run_qc(small_dataset)
    assert sorted(seen) == sorted(e.episode_id for e in result.episodes)


def test_images_none_reaches_the_image_family_as_no_sampling(
    small_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[object] = []
    import embodex.qc.runner as runner

    monkeypatch.setattr(runner, "CHUNK_CHECKS", (lambda plan, chunk: modes.append(plan.images),))
    run_qc(small_dataset, images="none")
    run_qc(small_dataset, images="all")
    assert modes[0] is None
    assert getattr(modes[-1], "all_frames", None) is True
