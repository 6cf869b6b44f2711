"""Named channels (remotes): saved like git remotes, used by every channel command, with
flags over environment variables over the remote's own settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodex.config import remotes_file
from embodex.errors import RemoteError
from embodex.remotes import (
    add_remote,
    get_remote,
    list_remotes,
    project_remotes_file,
    remove_remote,
    resolve_channel,
)

from ._delivery import PROFILE, at, centre_dataset, contract
from .test_cli_format import run


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the working folder (no remotes file above it)."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_add_list_show_remove(project: Path) -> None:
    terms = project / "contract.signed.json"
    terms.write_text("{}")
    added = add_remote("acme", "s3://acme/deliveries", contract=Path(terms.name), key="agibot")
    assert added.scope == "home" and added.source == remotes_file()
    assert added.contract == terms.resolve()  # absolute in the user's file
    add_remote("local", "channel")
    assert [r.name for r in list_remotes()] == ["acme", "local"]
    assert get_remote("local").url == str(project / "channel")  # a folder: made absolute
    assert get_remote("acme").to_json()["key"] == "agibot"
    with pytest.raises(RemoteError, match="already exists"):
        add_remote("acme", "s3://other/x")
    with pytest.raises(RemoteError, match="is not a remote name"):
        add_remote("a/b", "s3://x/y")
    assert remove_remote("acme").url == "s3://acme/deliveries"
    assert [r.name for r in list_remotes()] == ["local"]
    with pytest.raises(RemoteError, match=r"unknown remote 'acme' \(known remotes: local\)"):
        remove_remote("acme")


def test_the_project_file_wins_over_the_home_file(project: Path) -> None:
    add_remote("acme", "s3://acme/home-copy", key="mine")
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    add_remote("acme", "s3://acme/project-copy", scope="project", contract=None, cwd=project)
    add_remote("other", "ch", scope="project", cwd=project)
    assert project_remotes_file(sub) == project / ".embodex" / "remotes.yaml"
    seen = {r.name: r for r in list_remotes(sub)}  # found by walking up from a sub-folder
    assert seen["acme"].url == "s3://acme/project-copy" and seen["acme"].scope == "project"
    # paths in a project's file are relative to the project, so it can be committed
    text = (project / ".embodex" / "remotes.yaml").read_text()
    assert "url: ch" in text and str(project) not in text
    assert seen["other"].url == str(project / "ch")
    # new remotes go to the project's file by default once it exists
    assert add_remote("third", "s3://t/u", cwd=sub).scope == "project"
    # removing the project's hides nothing any more: the user's copy shows again
    remove_remote("acme", cwd=sub)
    assert get_remote("acme", cwd=sub).url == "s3://acme/home-copy"
    # outside the project only the user's remotes count
    assert [r.name for r in list_remotes(project.parent)] == ["acme"]


def test_the_home_folder_is_not_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # EMBODEX_HOME=~/.embodex: from ~ the home file must not be taken for a project's
    monkeypatch.setenv("EMBODEX_HOME", str(tmp_path / ".embodex"))
    add_remote("acme", "s3://acme/d", cwd=tmp_path)
    assert project_remotes_file(tmp_path) is None
    assert get_remote("acme", cwd=tmp_path).scope == "home"
    with pytest.raises(RemoteError, match="your own remotes file"):
        add_remote("other", "s3://x/y", scope="project", cwd=tmp_path)


def test_a_damaged_remotes_file_is_one_clear_error(project: Path) -> None:
    remotes_file().parent.mkdir(parents=True, exist_ok=True)
    remotes_file().write_text("remotes:\n  acme: [1, 2]\n")
    with pytest.raises(RemoteError, match="not a valid remotes file"):
        list_remotes()


def test_resolution_order_flag_then_environment_then_remote(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote("acme", "s3://acme/d", contract=Path("/c/remote.json"), key="remote-key")
    target = resolve_channel("acme")
    assert (target.url, target.contract, target.key) == (
        "s3://acme/d",
        Path("/c/remote.json"),
        "remote-key",
    )
    assert target.remote == "acme"
    monkeypatch.setenv("EMBODEX_CONTRACT", "/c/env.json")
    monkeypatch.setenv("EMBODEX_KEY", "env-key")
    target = resolve_channel("acme")
    assert (target.contract, target.key) == (Path("/c/env.json"), "env-key")
    target = resolve_channel("acme", contract=Path("/c/flag.json"), key="flag-key")
    assert (target.contract, target.key) == (Path("/c/flag.json"), "flag-key")
    # the channel itself from the environment; a given one wins
    monkeypatch.setenv("EMBODEX_CHANNEL", "acme")
    assert resolve_channel(None).url == "s3://acme/d"
    assert resolve_channel("s3://x/y").url == "s3://x/y"
    monkeypatch.delenv("EMBODEX_CHANNEL")
    assert resolve_channel(None).url is None
    # a bare word that is neither a remote nor a folder is a typo, not a new channel
    with pytest.raises(RemoteError, match=r"unknown remote 'acmee' \(known remotes: acme\)"):
        resolve_channel("acmee")
    (project / "chan").mkdir()
    assert resolve_channel("chan").url == "chan" and resolve_channel("./x").url == "./x"


def test_publish_pull_and_supply_through_remote_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    terms, _, _ = contract(tmp_path)
    src, store = tmp_path / "centre", tmp_path / "buyer"
    centre_dataset(src, 2)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profile.yaml").write_text(json.dumps(PROFILE.content))
    profile = ["--profile", str(tmp_path / "profile.yaml")]
    channel = ["./channel", "--contract", str(terms)]
    code, _, err = run(["remote", "add", "ours", *channel, "--key", "hubei-centre"], capsys)
    assert code == 0, err
    code, out, _ = run(["remote", "add", "acme", *channel, "--key", "agibot", "--json"], capsys)
    assert code == 0 and json.loads(out)["url"] == str(tmp_path / "channel")
    code, out, _ = run(["remote", "list"], capsys)
    assert code == 0 and "acme" in out and "ours" in out and "hubei-centre" in out

    day = at(5).isoformat()
    code, out, err = run(["publish", str(src), "ours", *profile, "--at", day, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["batch"] == 1
    pull = ["pull", "acme", "--into", str(store), *profile, "--at", at(6).isoformat()]
    code, out, err = run(pull, capsys)
    assert code == 0, err
    assert "batch 1" in out and (store / "dataset").is_dir()
    code, out, _ = run(["channel", "show", "acme", "--at", day, "--json"], capsys)
    assert code == 0 and len(json.loads(out)["batches"]) == 1
    code, out, _ = run(["supply", "status", "acme", "--at", at(7).isoformat()], capsys)
    assert code == 0 and "contracted" in out
    # the centre records the batch's provenance through its remote; the buyer reads it through
    # its own (a name, not a folder: the URL and contract come from the remote)
    code, _, err = run(["catalog", "record-delivery", str(src), "ours", "--at", day], capsys)
    assert code == 0, err
    code, out, err = run(["catalog", "provenance", "acme", "--at", day, "--json"], capsys)
    assert code == 0, err
    chains = json.loads(out)
    assert len(chains) == 1 and chains[0]["links"][-1]["statement"] == "delivery"

    # the environment names the channel; a flag still wins over the remote's key
    monkeypatch.setenv("EMBODEX_CHANNEL", "acme")
    code, out, _ = run(["pull", "--into", str(store), *profile, "--at", at(6).isoformat()], capsys)
    assert code == 0 and "up to date" in out
    code, _, err = run(["pull", "--key", "hubei-centre", "--into", str(store)], capsys)
    assert code == 1 and "is not the buyer" in err

    # an unknown name: one line naming the known remotes, usage exit code
    monkeypatch.delenv("EMBODEX_CHANNEL")
    code, _, err = run(["pull", "acmee", "--into", str(store)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert "unknown remote 'acmee' (known remotes: acme, ours)" in lines[0]
    assert "embodex remote add" in lines[0]
    code, _, err = run(["pull", "--into", str(store)], capsys)
    assert code == 2 and "no channel given" in err
    code, _, err = run(["pull", "./channel", "--into", str(store)], capsys)
    assert code == 2 and "missing --contract FILE" in err

    code, out, _ = run(["remote", "remove", "acme"], capsys)
    assert code == 0 and "removed remote acme" in out
    code, out, _ = run(["remote", "show", "ours", "--json"], capsys)
    assert code == 0 and json.loads(out)["key"] == "hubei-centre"


def test_remotes_added_at_once_are_all_kept(project: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    names = [f"r{i}" for i in range(12)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda n: add_remote(n, f"s3://bucket/{n}"), names))
    assert [r.name for r in list_remotes()] == sorted(names)
