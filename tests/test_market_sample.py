"""Sample packs: representative selection, watermark, QC report, provenance, verification."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import embodex
from embodex.demo.synth import SCENES, SKILLS, synth_episode, synth_meta
from embodex.errors import DatasetExistsError, SamplePackError, VerificationError
from embodex.format import DatasetWriter, open_dataset
from embodex.market import build_sample_pack, burn_mark, choose_sample, has_mark, verify_sample_pack
from embodex.market.provenance import (
    CHAIN_FILE,
    DeliveryStatement,
    Statement,
    extend_chain,
    read_chain_file,
    verify_chain,
    write_chain_file,
)
from embodex.market.sample import EVALUATION_LICENCE, SAMPLE_PREFIX
from embodex.qc import load_qc_manifest, run_qc, write_qc
from embodex.trust import Signer, generate_key, load_signer

SCENE = {s.scene_id: s for s in SCENES}
SKILL = {s.skill: s for s in SKILLS}
#: (skill, scene id, episodes): four cells, one of them a single episode
CELLS = [("hold_cup", "S04", 3), ("hold_cup", "S10", 2), ("fold_clothes", "S11", 1),
         ("pour_water", "S07", 2)]  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample-source") / "ds"
    meta = synth_meta(image_size=32, cameras=("head", "hand_left"), depth=True)
    i = 0
    with DatasetWriter(path, meta) as w:
        for skill, scene, n in CELLS:
            for _ in range(n):
                w.add_episode(synth_episode(meta, i, seed=11, scene=SCENE[scene],
                                            skill=SKILL[skill], duration_s=(3.0, 4.0)))  # fmt: skip
                i += 1
    write_qc(path, run_qc(path))
    return path


@pytest.fixture
def centre() -> Signer:
    generate_key("hubei-centre", "centre")
    return load_signer("hubei-centre")


def test_every_cell_gets_an_episode(source: Path) -> None:
    ds, manifest = open_dataset(source), load_qc_manifest(source)
    assert {e.verdict for e in manifest.episodes} <= {"PASS", "WARN"}
    sel = choose_sample(ds, manifest, per_cell=2)
    cells = {(skill, SCENE[scene].scene_type): min(n, 2) for skill, scene, n in CELLS}
    assert {c: len(ids) for c, ids in sel.cells.items()} == cells
    assert len(sel.episode_ids) == 7 and sel.no_deliverable == [] and sel.left_out == []
    # one per cell: the median duration of the cell
    one = choose_sample(ds, manifest, per_cell=1)
    assert all(len(ids) == 1 for ids in one.cells.values()) and len(one.episode_ids) == 4
    rows = {r["episode_id"]: r for r in ds.episodes.to_pylist()}
    hold = sorted((rows[e]["duration_s"], e) for e in rows if rows[e]["scene_id"] == "S04")
    assert one.cells[("hold_cup", "restaurant")] == [hold[1][1]]
    # a cap: every cell still gets one before any gets two
    capped = choose_sample(ds, manifest, per_cell=2, max_episodes=5)
    assert len(capped.episode_ids) == 5 and len(capped.cells) == 4
    tiny = choose_sample(ds, manifest, per_cell=2, max_episodes=3)
    assert len(tiny.cells) == 3 and len(tiny.left_out) == 1


def test_failed_cells_show_nothing_and_pass_comes_first(source: Path) -> None:
    ds, manifest = open_dataset(source), load_qc_manifest(source)
    rows = {r["episode_id"]: r for r in ds.episodes.to_pylist()}
    s04 = sorted(e for e in rows if rows[e]["scene_id"] == "S04")

    def verdict(eid: str) -> str:
        if rows[eid]["scene_id"] == "S07":
            return "FAIL"  # the whole pour_water × factory cell fails
        return "WARN" if eid in s04[:2] else "PASS"

    changed = manifest.model_copy(
        update={"episodes": [e.model_copy(update={"verdict": verdict(e.episode_id)})
                             for e in manifest.episodes]}
    )  # fmt: skip
    sel = choose_sample(ds, changed, per_cell=1)
    assert sel.no_deliverable == [("pour_water", "factory")]
    assert sel.cells[("hold_cup", "restaurant")] == [s04[2]]  # the PASS one, not a WARN


def test_pack_is_a_watermarked_dataset_with_qc_and_provenance(
    source: Path, centre: Signer, tmp_path: Path
) -> None:
    pack = build_sample_pack(source, tmp_path / "pack", centre, per_cell=1)
    ds = embodex.open_dataset(tmp_path / "pack")
    ds.verify()
    src = open_dataset(source)
    assert ds.meta.licence == EVALUATION_LICENCE and ds.meta.name.endswith("-sample")
    assert ds.meta.extra["sample_pack"]["source_dataset_digest"] == src.digest
    assert len(ds) == 4 and all(e.startswith(SAMPLE_PREFIX) for e in ds.episode_ids)
    for view in ds:
        mark = view.meta.extra["sample_pack"]
        assert mark["evaluation_only"] is True
        assert SAMPLE_PREFIX + mark["source_episode_id"] == view.episode_id
        original = src.episode(mark["source_episode_id"])
        assert view.frame_count == original.frame_count
        assert np.array_equal(view.feature("state"), original.feature("state"))
        for cam in ds.meta.cameras:
            assert not has_mark(original.images(cam.name)[0])
    first = ds.episode(0)
    for cam in ds.meta.cameras:  # every frame of every camera carries the mark
        frames = first.images(cam.name)
        assert all(has_mark(frames[i]) for i in range(len(frames)))
    assert (tmp_path / "pack" / "qc" / "report.html").stat().st_size > 1000
    assert [s.statement for s in pack.provenance.statements][-1] == "sample"
    assert pack.dataset_digest == ds.digest
    checked = verify_sample_pack(tmp_path / "pack")
    assert checked.provenance.head == pack.provenance.head
    origin = checked.describe()["episodes"][0]["origin"]
    assert origin["operator_id"].startswith("op-") and origin["robot_serial"]
    assert not any(p.name.startswith(".pack") for p in tmp_path.iterdir())


def test_damaged_packs_are_refused(source: Path, centre: Signer, tmp_path: Path) -> None:
    build_sample_pack(source, tmp_path / "pack", centre, per_cell=1)
    chain_path = tmp_path / "pack" / CHAIN_FILE
    chain = read_chain_file(chain_path)
    write_chain_file(chain_path, chain[:3])  # the source's chain without the sample link
    with pytest.raises(SamplePackError, match="no sample statement"):
        verify_sample_pack(tmp_path / "pack")
    # a batch's chain (delivery last, signed by the same centre) is no sample's chain either
    head = verify_chain(chain[:3], centre.identity)
    first = head.statements[0]
    delivery = DeliveryStatement(
        channel_id="ch-1", contract_id="c-1", contract_digest=first.dataset.digest,
        buyer_key_id=centre.key_id, batch=1, batch_manifest_digest=first.dataset.digest,
        published_at="2026-01-05T00:00:00Z", episodes=1, hours=Decimal(1),
    )  # fmt: skip
    last = Statement(
        statement="delivery",
        previous=head.head,
        centre=first.centre,
        dataset=first.dataset,
        issued_at="2026-01-05T00:00:00Z",
        delivery=delivery,
    )
    write_chain_file(chain_path, extend_chain(chain[:3], last, centre))
    with pytest.raises(SamplePackError, match="no sample statement"):
        verify_sample_pack(tmp_path / "pack")
    write_chain_file(chain_path, chain)
    with pytest.raises(Exception, match="do not trust"):
        verify_sample_pack(tmp_path / "pack", trusted=[])
    shard = next((tmp_path / "pack" / "data").glob("shard-*.arrow"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(VerificationError):
        verify_sample_pack(tmp_path / "pack")


def test_pack_errors_and_crash_leftovers(source: Path, centre: Signer, tmp_path: Path) -> None:
    staging = tmp_path / ".pack.incomplete"
    staging.mkdir()
    (staging / "junk").write_text("left by a crash")
    build_sample_pack(source, tmp_path / "pack", centre, per_cell=1, max_episodes=2)
    assert not staging.exists() and len(open_dataset(tmp_path / "pack")) == 2
    with pytest.raises(DatasetExistsError):
        build_sample_pack(source, tmp_path / "pack", centre)
    with pytest.raises(SamplePackError, match="per_cell"):
        build_sample_pack(source, tmp_path / "pack2", centre, per_cell=0)


@pytest.mark.parametrize("shape", [(32, 32, 3), (48, 64, 3), (96, 96, 3), (480, 640, 3), (24, 24)])
def test_mark_survives_jpeg_and_shows_on_any_frame(shape: tuple[int, ...]) -> None:
    from embodex.format.images import decode_image, encode_image

    rng = np.random.default_rng(0)
    if len(shape) == 2:
        image = rng.integers(800, 1200, size=shape).astype(np.uint16)
        encoding = "png16"
    else:
        image = rng.integers(60, 200, size=shape).astype(np.uint8)
        encoding = "jpeg"
    assert not has_mark(image)
    raw = burn_mark(image)
    assert has_mark(decode_image(encode_image(raw, encoding, quality=95), encoding))
    diff = raw != image
    changed = np.argwhere(diff.any(axis=-1) if diff.ndim == 3 else diff)
    # only the bottom-right corner changes
    assert changed.min(axis=0)[0] >= shape[0] // 3 and changed.min(axis=0)[1] >= shape[1] // 3
