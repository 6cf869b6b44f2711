"""`embodex export hf --push REPO`: the Parquet export uploaded with huggingface_hub to the
test Hub (tests/hub_server.py in its own process), then opened from there by
`datasets.load_dataset("owner/name")` as a user would (a fresh process whose HF_ENDPOINT is the
test Hub); access errors are one line each with the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi

from embodex.demo.synth import synth_dataset, synth_meta
from embodex.format import Dataset

from .conftest import HUB_TOKENS, SHORT, use_hub
from .test_cli_delivery import _one_line_error
from .test_cli_format import run


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    meta = synth_meta(image_size=24, cameras=("head",))
    return synth_dataset(
        tmp_path_factory.mktemp("push") / "src", 2, seed=3, meta=meta, duration_s=SHORT
    )


@pytest.fixture
def hub(hub_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The test Hub with no login stored (HF_HOME in a temp folder) and the centre's token."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    use_hub(monkeypatch, hub_endpoint, "centre")
    return hub_endpoint


_LOAD = """
import json, sys, datasets
datasets.disable_progress_bars()
frames = datasets.load_dataset(sys.argv[1], split="train")
episodes = datasets.load_dataset(sys.argv[1], "episodes", split="train")
print(json.dumps({
    "rows": len(frames),
    "image": type(frames.features["image.head"]).__name__,
    "state": list(frames["state"]),
    "size": list(frames[3]["image.head"].size),
    "episodes": list(episodes["episode_id"]),
}))
"""


def test_push_then_load_dataset_from_the_hub(
    source: Dataset, hub: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"hubei-centre/week01-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "hf"
    code, stdout, err = run(
        ["export", "hf", str(source.root), str(out), "--push", repo, "--private", "--json"],
        capsys,
    )
    assert code == 0, err
    assert json.loads(stdout)["url"] == f"{hub}/datasets/{repo}"
    api = HfApi(endpoint=hub, token=HUB_TOKENS["centre"][0])
    assert api.repo_info(repo, repo_type="dataset").private
    local = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    remote = set(api.list_repo_files(repo, repo_type="dataset"))
    assert set(local) <= remote and any(f.startswith("data/train-") for f in local)
    # a fresh process (HF_ENDPOINT, HF_TOKEN inherited) opens it by its repository id
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub-cache"),
           "HF_DATASETS_CACHE": str(tmp_path / "ds-cache")}  # fmt: skip
    got = subprocess.run(
        [sys.executable, "-c", _LOAD, repo], env=env, capture_output=True, text=True, timeout=120
    )
    assert got.returncode == 0, got.stderr[-2000:]
    loaded = json.loads(got.stdout.strip().splitlines()[-1])
    assert loaded["rows"] == source.num_frames and loaded["image"] == "Image"
    want = np.concatenate([v.feature("state") for v in source])
    np.testing.assert_array_equal(np.asarray(loaded["state"], dtype=np.float32), want)
    assert loaded["size"] == [24, 24] and loaded["episodes"] == source.episode_ids
    # pushing again updates the same repository (exist_ok): a second commit, no error
    code, _, err = run(
        ["export", "hf", str(source.root), str(tmp_path / "again"), "--push", repo], capsys
    )
    assert code == 0, err
    assert len(api.list_repo_commits(repo, repo_type="dataset")) == 3  # init + two pushes


def test_push_errors_are_one_line_with_the_fix(
    source: Dataset,
    hub: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = f"hubei-centre/errs-{uuid.uuid4().hex[:8]}"
    # no token anywhere: refused before any export is written
    use_hub(monkeypatch, hub, None)
    out = tmp_path / "no-token"
    code, _, err = run(["export", "hf", str(source.root), str(out), "--push", repo], capsys)
    line = _one_line_error(code, err)
    assert "no Hugging Face token" in line and "--token TOKEN" in line and "HF_TOKEN" in line
    assert not out.exists()
    # a token the Hub does not know: 401
    code, _, err = run(
        ["export", "hf", str(source.root), str(tmp_path / "bad"), "--push", repo,
         "--token", "hf-not-a-token"],
        capsys,
    )  # fmt: skip
    line = _one_line_error(code, err)
    assert "refused the token (401)" in line and "hf auth login" in line
    # a read-only account may not create (or write to) the organisation's repository: 403
    use_hub(monkeypatch, hub, "outsider")
    code, _, err = run(
        ["export", "hf", str(source.root), str(tmp_path / "ro"), "--push", repo], capsys
    )
    line = _one_line_error(code, err)
    assert "may not write" in line and "(403)" in line and "write access" in line
    assert (tmp_path / "ro" / "README.md").is_file()  # the export itself is kept
    # not OWNER/NAME
    code, _, err = run(
        ["export", "hf", str(source.root), str(tmp_path / "id"), "--push", "just-a-name"], capsys
    )
    assert "not a Hub repository id" in _one_line_error(code, err)
    assert not (tmp_path / "id").exists()
