"""Signed catalogues built from real datasets: contents, verification, tampering, staleness."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from embodex.canonical import digest_json
from embodex.demo.synth import synth_dataset, synth_episodes, synth_meta
from embodex.errors import (
    CatalogError,
    ProvenanceError,
    QCManifestError,
    SignatureError,
)
from embodex.format import DatasetWriter, open_dataset
from embodex.market import (
    build_catalog,
    default_price_sheet,
    ensure_dataset_provenance,
    load_capacity,
    open_catalog,
    read_chain_file,
    verify_chain,
)
from embodex.market.provenance import CHAIN_FILE, processing_steps, write_chain_file
from embodex.qc import load_qc_manifest
from embodex.trust import Signer, generate_key, load_signer
from embodex_cli.errors import error_line

from ._market import qc_dataset


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("market-datasets")
    qc_dataset(root / "a", episodes=10, seed=3)
    qc_dataset(root / "b", episodes=6, seed=4)
    return [root / "a", root / "b"]


@pytest.fixture
def centre() -> Signer:
    generate_key("hubei-centre", "centre")
    return load_signer("hubei-centre")


def build(datasets: list[Path], out: Path, centre: Signer, **kw: object) -> Path:
    build_catalog(datasets, out, centre, prices=default_price_sheet(), **kw)  # type: ignore[arg-type]
    return out


def test_catalogue_lists_aggregates_of_every_episode(
    datasets: list[Path], centre: Signer, tmp_path: Path
) -> None:
    cap = tmp_path / "capacity.yaml"
    cap.write_text('kind: embodex.capacity\nhours_per_week: {S04: "8", S05: "8.5"}\n')
    out = build(datasets, tmp_path / "catalog", centre, capacity=load_capacity(cap))
    catalog = open_catalog(out)
    li = catalog.listing
    manifests = [load_qc_manifest(d) for d in datasets]
    assert [d.qc.manifest_digest for d in li.datasets] == [
        digest_json(m.model_dump(mode="json")) for m in manifests
    ]
    hours = sum((Decimal(e.hours) for m in manifests for e in m.episodes), Decimal(0))
    totals = li.totals()
    assert totals["overall"]["hours"] == hours and totals["overall"]["episodes"] == 16
    by_verdict = sum((totals["overall"][v] for v in ("PASS", "WARN", "FAIL")), Decimal(0))
    assert by_verdict == hours
    assert sum(h.episodes for h in li.holdings) == 16
    assert len(li.scenes) == 23 and li.capacity("S05") == Decimal("8.5")
    assert {p.digest for p in li.qc_profiles} == {m.profile.digest for m in manifests}
    assert [c.name for c in li.datasets[0].cameras] == ["head", "hand_left"]
    assert li.datasets[0].cameras[0].rate_hz == Decimal("30.0")
    assert li.prices == default_price_sheet()
    # No frames leave the centre: a few small JSON files, nothing else.
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".json"}
    assert sum(p.stat().st_size for p in files) < 200_000
    assert sorted(p.relative_to(out).as_posix() for p in files)[:2] == [
        "identity.json",
        "listing.json",
    ]


def test_rebuilding_increments_the_sequence(
    datasets: list[Path], centre: Signer, tmp_path: Path
) -> None:
    out = build(datasets[:1], tmp_path / "catalog", centre)
    assert open_catalog(out).listing.sequence == 1
    build(datasets, out, centre)
    assert open_catalog(out).listing.sequence == 2


def _flip_payload_byte(path: Path, old: bytes, new: bytes) -> None:
    env = json.loads(path.read_text())
    payload = base64.b64decode(env["payload"])
    assert old in payload
    env["payload"] = base64.b64encode(payload.replace(old, new, 1)).decode()
    path.write_text(json.dumps(env))


def test_tampered_listing_is_refused(datasets: list[Path], centre: Signer, tmp_path: Path) -> None:
    out = build(datasets, tmp_path / "catalog", centre)
    listing = out / "listing.json"
    good = listing.read_bytes()
    _flip_payload_byte(listing, b'"base_per_accepted_hour":"600.00"',
                       b'"base_per_accepted_hour":"500.00"')  # fmt: skip
    with pytest.raises(SignatureError, match="altered after signing"):
        open_catalog(out)
    # one character of the base64 text
    env = json.loads(good)
    i = len(env["payload"]) // 2
    env["payload"] = (
        env["payload"][:i] + ("A" if env["payload"][i] != "A" else "B") + env["payload"][i + 1 :]
    )
    listing.write_text(json.dumps(env))
    with pytest.raises(SignatureError):
        open_catalog(out)
    listing.write_bytes(good)
    assert open_catalog(out).listing.sequence == 1


def test_untrusted_or_impostor_signers_are_refused(
    datasets: list[Path], centre: Signer, tmp_path: Path
) -> None:
    out = build(datasets, tmp_path / "catalog", centre)
    with pytest.raises(SignatureError, match="do not trust") as err:
        open_catalog(out, trusted=[])
    assert "import_identity(path)" in err.value.hint and "trusted=" in err.value.hint
    assert "`embodex keys import PATH`" in error_line(err.value)  # the CLI's words
    # Someone else re-signs the listing with their own key (and names themselves in it).
    impostor = Signer.ephemeral("hubei-centre", "centre")
    build(datasets, tmp_path / "fake", impostor)
    with pytest.raises(SignatureError, match="do not trust"):
        open_catalog(tmp_path / "fake")  # the key store trusts the real centre only
    # The real centre's signature over a listing that names another key.
    from embodex.trust.envelope import Envelope, sign_payload
    from embodex.trust.payload import parse_payload

    env = Envelope.parse((tmp_path / "fake" / "listing.json").read_bytes())
    forged = sign_payload(env.payloadType, parse_payload(base64.b64decode(env.payload)), centre)
    (tmp_path / "fake" / "listing.json").write_bytes(forged.to_json_bytes())
    with pytest.raises(SignatureError, match="names centre key .* but is not signed by it"):
        open_catalog(tmp_path / "fake")


def test_expired_listing_is_stale(datasets: list[Path], centre: Signer, tmp_path: Path) -> None:
    out = build(datasets[:1], tmp_path / "catalog", centre, valid_days=3)
    until = open_catalog(out).listing.valid_until
    with pytest.raises(CatalogError, match="expired"):
        open_catalog(out, today=until + timedelta(days=1))
    assert open_catalog(out, today=until + timedelta(days=1), allow_expired=True)


def test_broken_provenance_chains_are_refused(
    datasets: list[Path], centre: Signer, tmp_path: Path
) -> None:
    out = build(datasets, tmp_path / "catalog", centre)
    chains = sorted((out / "provenance").glob("*.json"))
    first, second = (read_chain_file(p) for p in chains)
    good = chains[0].read_bytes()
    # a link removed
    write_chain_file(chains[0], [first[0], first[2]])
    with pytest.raises(ProvenanceError, match="3 or 4 statements"):
        open_catalog(out)
    # a link swapped for the other dataset's (validly signed, wrong chain)
    write_chain_file(chains[0], [first[0], second[1], first[2]])
    with pytest.raises(ProvenanceError, match="does not link|another dataset"):
        open_catalog(out)
    # the other dataset's whole chain in its place
    write_chain_file(chains[0], second)
    with pytest.raises(ProvenanceError, match="not the chain the listing names"):
        open_catalog(out)
    # a statement signed by someone else
    other = Signer.ephemeral("x", "centre")
    with pytest.raises(SignatureError):
        verify_chain(first, other.identity)
    chains[0].write_bytes(good)
    assert len(open_catalog(out).chains) == 2


def test_provenance_records_collection_processing_and_qc(
    datasets: list[Path], centre: Signer
) -> None:
    chain = ensure_dataset_provenance(datasets[0], centre)
    envelopes = chain.envelopes
    assert verify_chain(envelopes, centre.identity).head == chain.head
    assert [s.statement for s in chain.statements] == ["collection", "processing", "qc"]
    collection = chain.statements[0].collection
    assert collection is not None and len(collection.episodes) == 10
    o = collection.episodes[0]
    assert o.operator_id and o.operator_id.startswith("op-") and o.operator_level in (
        "L1", "L2", "L3"
    )  # fmt: skip
    assert o.robot_serial and o.scene_id and o.site == "Wuhan"
    assert [s.step for s in chain.statements[1].processing or []] == ["synthesise", "package"]
    qc = chain.statements[2].qc
    manifest = load_qc_manifest(datasets[0])
    assert qc is not None and qc.manifest_digest == digest_json(manifest.model_dump(mode="json"))
    assert qc.passed + qc.warned + qc.failed == 10
    # stored beside the dataset, reused while nothing changes
    assert (datasets[0] / CHAIN_FILE).exists()
    again = ensure_dataset_provenance(datasets[0], centre).envelopes
    assert [e.payload for e in again] == [e.payload for e in envelopes]


def test_trimmed_episodes_add_a_trim_step(tmp_path: Path) -> None:
    """Data trimmed by another tool that records ``extra.trim`` shows a trim step."""
    meta = synth_meta(image_size=32, cameras=("head",))
    episodes = list(synth_episodes(meta, 3, seed=4, duration_s=(1.0, 1.5)))
    episodes[1].meta = episodes[1].meta.model_copy(
        update={"extra": {**episodes[1].meta.extra, "trim": {"head": 5, "tail": 3}}}
    )
    with DatasetWriter(tmp_path / "ds", meta) as w:
        for ep in episodes:
            w.add_episode(ep)
    steps = processing_steps(open_dataset(tmp_path / "ds"))
    assert [s.step for s in steps] == ["synthesise", "trim", "package"]
    assert steps[1].episodes == 1


def test_catalogue_build_errors(datasets: list[Path], centre: Signer, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    synth_dataset(bare, 2, seed=1, meta=synth_meta(image_size=32, cameras=("head",)),
                  duration_s=(3.0, 4.0))  # fmt: skip
    with pytest.raises(QCManifestError, match="no QC manifest"):
        build([bare], tmp_path / "c1", centre)
    other = tmp_path / "other"
    qc_dataset(other, episodes=2, seed=5, centre_id="another-centre")
    with pytest.raises(CatalogError, match="comes from centre another-centre"):
        build([datasets[0], other], tmp_path / "c2", centre)
    generate_key("agibot", "buyer")
    with pytest.raises(CatalogError, match="buyer key"):
        build(datasets, tmp_path / "c3", load_signer("agibot"))
    with pytest.raises(CatalogError, match="no datasets"):
        build([], tmp_path / "c4", centre)
    # a dataset changed after QC ran
    stale = tmp_path / "stale"
    qc_dataset(stale, episodes=2, seed=6)
    synth_dataset(stale, 1, seed=7, meta=synth_meta(image_size=32, cameras=("head", "hand_left")),
                  duration_s=(3.0, 4.0), append=True, first_index=10)  # fmt: skip
    with pytest.raises(QCManifestError, match="stale"):
        build([stale], tmp_path / "c5", centre)
    assert not (tmp_path / "c5" / "listing.json").exists()
