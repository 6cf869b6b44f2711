"""A buyer pulls an hf:// channel from olah, a real Hub-compatible server from PyPI (its own
venv, .venv-olah, built by `make olah-venv`), in its own process.

olah mirrors git repositories read-only: it has no create_repo or commit API, so the channel
is published to a folder by the centre and turned into a git repository here, as a mirror
of a Hub repo would hold it. What this proves: embodex's reads (resolve downloads, paths-info,
the head, manifests and files) work against a server we did not write, one that ignores
``Range`` and answers 200 with the whole file; and that a buyer who cannot write (a mirror,
like a gated repo's read-only access) gets its batch installed and its receipt kept, listed
as unposted. Writes over hf:// are tested against tests/hub_server.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodex.delivery import publish, pull
from embodex.format import open_dataset
from embodex.storage.stores import open_storage

from ._delivery import PROFILE, at, centre_dataset, contract
from .conftest import _free_port, _wait_listening, stop_process, use_hub, venv_tool

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("EMBODEX_OLAH_VENV", ROOT / ".venv-olah"))


@pytest.fixture(scope="module")
def olah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """olah in offline mode on a free loopback port; (its URL, the mirrors folder)."""
    exe = venv_tool(VENV, "olah-cli", "olah", "olah-venv")
    base = tmp_path_factory.mktemp("olah")
    mirrors = base / "mirrors"
    mirrors.mkdir()
    port = _free_port()
    config = base / "olah.toml"
    config.write_text(
        f'[basic]\nhost = "127.0.0.1"\nport = {port}\nrepos-path = "{base / "repos"}"\n'
        f'mirrors-path = ["{mirrors}"]\nmirror-netloc = "127.0.0.1:{port}"\n'
        f'mirror-lfs-netloc = "127.0.0.1:{port}"\n[accessibility]\noffline = true\n',
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [str(exe), "-c", str(config)],
        cwd=base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc, timeout=60, name="olah")
        yield f"http://127.0.0.1:{port}", mirrors
    finally:
        stop_process(proc)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=centre", "-c", "user.email=centre@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_buyer_pulls_from_olah_mirror(
    olah: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint, mirrors = olah
    terms, centre, buyer = contract(tmp_path)
    src, folder, store = tmp_path / "centre", tmp_path / "channel", tmp_path / "buyer"
    centre_dataset(src, 3)
    published = publish(src, folder, terms, centre, profile=PROFILE, now=at(5))
    # the channel as a Hub dataset repo: plain git (olah serves non-LFS files as they are)
    repo = mirrors / "datasets" / "hubei-centre" / "deliveries"
    shutil.copytree(folder, repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "batch 1")

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    use_hub(monkeypatch, endpoint, None)
    url = "hf://datasets/hubei-centre/deliveries"
    channel = open_storage(url)
    assert channel.get_range("head.json", 5, 7) == (folder / "head.json").read_bytes()[5:12]
    assert (
        channel.size("batches/000001/manifest.json")
        == (folder / "batches/000001/manifest.json").stat().st_size
    )

    # olah has no write API: its 404 to the receipt's commit reads like any repo the token
    # may not write to, refused at once (not retried); the pull goes on without posting it
    report = pull(url, terms, buyer, store, now=at(5, 12))
    assert report.receipts_unposted == [1]
    assert "receipts/000001.json: repository" in (report.receipts_refused or "")
    # everything else happened, verified, from olah
    assert open_dataset(store / "dataset").episode_ids == published.episodes
    assert (store / "receipts" / "000001.json").exists()
    # the next pull finds nothing new and tries the receipt again, refused the same way
    again = pull(url, terms, buyer, store, now=at(5, 13))
    assert again.batches == [] and again.receipts_unposted == [1]
