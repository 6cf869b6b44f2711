"""Pull and publish as explicit state machines (embodex.delivery.stages): the tables refuse
any other transition, and a cut run leaves the stage it reached saved for the resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodex.delivery import publish, pull
from embodex.delivery.buyer_store import BatchProgress, BuyerStore
from embodex.delivery.outbox import Outbox
from embodex.delivery.stages import PUBLISH, PULL
from embodex.storage import open_storage

from ._delivery import PROFILE, Crash, at, centre_dataset, contract, uploads_die_after


def test_the_tables_allow_only_forward_steps() -> None:
    assert PULL.step("downloading", "decided") == "decided"
    assert PULL.step("decided", "installed") == "installed"
    assert PUBLISH.step("staged", "uploading") == "uploading"
    for machine, current, to in [
        (PULL, "decided", "downloading"),
        (PULL, "downloading", "installed"),
        (PULL, "installed", "decided"),
        (PUBLISH, "uploading", "staged"),
    ]:
        with pytest.raises(RuntimeError, match="no transition"):
            machine.step(current, to)  # type: ignore[arg-type]
    progress = BatchProgress(number=1, manifest_digest="sha256:" + "0" * 64)
    progress.advance("decided")
    with pytest.raises(RuntimeError):
        progress.advance("decided")


def test_a_cut_publish_saves_uploading_and_a_cut_pull_saves_its_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 3)
    with uploads_die_after(2), pytest.raises(Crash):
        publish(src, url, terms, centre, profile=PROFILE, now=at(5), workers=1)
    pending = Outbox(open_storage(url).url).pending()
    assert pending is not None and pending.stage == "uploading" and pending.uploaded
    publish(src, url, terms, centre, profile=PROFILE, now=at(5, 11), workers=1)
    assert Outbox(open_storage(url).url).pending() is None  # done: the head names the batch

    import importlib

    pull_module = importlib.import_module("embodex.delivery.pull")

    def die(*_a: object, **_k: object) -> None:
        raise Crash

    store = tmp_path / "buyer"
    with monkeypatch.context() as mp, pytest.raises(Crash):
        mp.setattr(pull_module._Puller, "_install", die)
        pull(url, terms, buyer, store, now=at(5, 12))
    state = BuyerStore(store).load_state()
    assert state.current is not None and state.current.stage == "decided"
    report = pull(url, terms, buyer, store, now=at(5, 13))
    assert report.batches[0].accepted == 3
    assert BuyerStore(store).load_state().current is None
