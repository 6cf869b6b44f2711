"""The market commands as a user runs them: output, --json, exit codes, one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from embodex.contract import contract_from_yaml, load_contract_yaml
from embodex.errors import ProvenanceError
from embodex.format import open_dataset
from embodex.market import (
    build_quote,
    load_price_sheet,
    load_quote,
    open_catalog,
    open_provenance,
    write_quote,
)

from ._market import qc_dataset
from ._trust import spoil
from .test_cli_format import run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "market"
#: the demand below is dated January 2026: quotes and drafts act as of before its start
AT, AT_DAY = "2026-01-02T09:00:00Z", "2026-01-02"
DEMAND = """\
kind: embodex.demand
title: CLI pilot
buyer: {name: agibot, organisation: AgiBot}
lines:
  - {skills: [hold_cup, pick_place], scene_types: [restaurant, home], hours: "12"}
  - {skills: [fold_clothes], scene_types: [laundry], hours: "5", customised: true}
required_cameras: [head, hand_left]
start: 2026-01-05
horizon: 2026-03-01
budget: {amount: "80000", currency: CNY}
"""


def _draft(quote: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`embodex contract init --from-quote QUOTE --buyer agibot -o OUT`."""
    args = ["contract", "init", "--from-quote", str(quote), "--buyer", "agibot", "-o", str(out),
            "--at", AT_DAY]  # fmt: skip
    return run(args, capsys)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("cli-market")
    qc_dataset(root / "a", episodes=8, seed=21)
    qc_dataset(root / "b", episodes=6, seed=22)
    return [root / "a", root / "b"]


def test_centre_to_contract_from_the_cli(
    datasets: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["keys", "generate", "hubei-centre", "--role", "centre"], capsys)[0] == 0
    assert run(["keys", "generate", "agibot", "--role", "buyer"], capsys)[0] == 0
    cat = tmp_path / "catalog"
    code, out, err = run(
        ["catalog", "build", *map(str, datasets), "-o", str(cat), "--key", "hubei-centre",
         "--capacity", str(EXAMPLES / "capacity.yaml")],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "catalogue #1 of 2 datasets, 14 episodes" in out
    code, out, _ = run(["catalog", "show", str(cat)], capsys)
    assert code == 0
    assert "verified     listing signed by hubei-centre" in out
    for heading in ("Hours by scene type", "Hours by skill", "Hours by robot model",
                    "skill × scene type", "Scenes"):  # fmt: skip
        assert heading in out
    assert "S04    restaurant   Dining table service" in out
    # the transparent price sheet: every multiplier a quote may apply
    sheet = load_price_sheet(None)
    scene_line = next(x for x in out.splitlines() if x.startswith("  scene types  "))
    for scene_type, factor in sheet.scene_complexity.items():
        assert f"{scene_type} ×{factor}" in scene_line
    assert f"any other ×{sheet.default_scene_complexity}" in scene_line
    skill_line = next(x for x in out.splitlines() if x.startswith("  skills       "))
    for skill, factor in sheet.skill_difficulty.items():
        assert f"{skill} ×{factor}" in skill_line
    # hours by robot model: one row per model, its episodes adding up to the whole
    shown_json = json.loads(run(["catalog", "show", str(cat), "--json"], capsys)[1])
    robots = shown_json["totals"]["by_robot"]
    section = out.split("Hours by robot model (QC verdict):")[1].split("\n\n")[0]
    for model, group in robots.items():
        assert any(r.split()[:2] == [model, str(group["episodes"])] for r in section.splitlines())
    assert sum(g["episodes"] for g in robots.values()) == 14
    code, out, _ = run(["catalog", "show", str(cat), "--json"], capsys)
    shown = json.loads(out)
    assert shown["verified"] is True and shown["totals"]["overall"]["episodes"] == 14
    assert len(shown["provenance"]) == 2
    # `catalog provenance CATALOG`: the same chains; an episode of either dataset is found
    chains = json.loads(run(["catalog", "provenance", str(cat), "--json"], capsys)[1])
    assert chains == list(shown["provenance"].values())
    for ds in datasets:
        first = open_dataset(ds).episode_ids[0]
        code, out, _ = run(["catalog", "provenance", str(cat), "--episode", first], capsys)
        assert code == 0 and out.startswith(f"episode_id       {first}\n"), out
    with pytest.raises(ProvenanceError, match="only applies to a delivery channel"):
        open_provenance(cat, batch=1)  # from Python too: a batch needs the channel's contract

    demand = tmp_path / "demand.yaml"
    demand.write_text(DEMAND)
    code, out, _ = run(["catalog", "match", str(cat), str(demand)], capsys)
    assert code == 0 and "all ready by" in out
    code, out, _ = run(["catalog", "match", str(cat), str(demand), "--json"], capsys)
    matched = json.loads(out)
    assert matched["feasible"] is True and len(matched["lines"]) == 5
    short = tmp_path / "short.yaml"
    short.write_text(DEMAND.replace('hours: "5"', 'hours: "500"'))
    code, out, err = run(["catalog", "match", str(cat), str(short)], capsys)
    assert code == 1 and "SHORTFALL" in out
    assert err.startswith("error: ") and "cannot be ready by 2026-03-01" in err
    assert len(err.strip().splitlines()) == 1

    quote = tmp_path / "quote.json"
    code, out, err = run(["quote", str(cat), str(demand), "-o", str(quote), "--at", AT], capsys)
    assert code == 0 and "TOTAL" in out and "per accepted hour" in out
    assert "within budget" in out and f"wrote {quote}" in err
    q = load_quote(quote)
    assert q.total > 0 and q.hours == 4 * 12 + 5
    code, out, _ = run(["quote", str(cat), str(demand), "--json", "--at", AT], capsys)
    assert json.loads(out)["total"] == str(q.total)

    contract = tmp_path / "contract.yaml"
    code, _, err = _draft(quote, contract, capsys)
    assert code == 0, err
    drafted = load_contract_yaml(contract)
    assert drafted.price.per_accepted_hour == q.blended_per_accepted_hour
    assert drafted.acceptance.qc_profile_digest == q.qc_profile.digest
    code, _, err = run(
        ["contract", "init", "--from-quote", str(quote), "--start", "2026-01-01"], capsys
    )
    assert code == 2 and "come from the quote" in err
    assert drafted.origin is not None and drafted.origin.quote_digest == q.digest
    code, out, _ = run(["contract", "show", str(contract)], capsys)
    assert f"origin       quote {q.quote_id}" in out and "of listing #1" in out
    sign = ["contract", "sign", str(contract), "--key", "hubei-centre", "--at", "2026-01-02"]
    code, _, err = run(sign, capsys)
    assert code == 0, err
    # the same with the catalogue named explicitly
    code, out, err = run(
        ["contract", "init", "--from-quote", str(quote), "--catalog", str(cat), "--buyer",
         "agibot", "--at", AT_DAY],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert contract_from_yaml(out).price == drafted.price


def test_contract_from_a_forged_quote_is_refused(
    datasets: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A quote edited to a lower price, every figure recomputed so its arithmetic adds up,
    does not become a contract: the signed listing's price sheet gives other factors."""
    run(["keys", "generate", "hubei-centre", "--role", "centre"], capsys)
    run(["keys", "generate", "agibot", "--role", "buyer"], capsys)
    cat = tmp_path / "catalog"
    assert run(["catalog", "build", *map(str, datasets), "-o", str(cat), "--key",
                "hubei-centre", "--capacity", str(EXAMPLES / "capacity.yaml")],
               capsys)[0] == 0  # fmt: skip
    demand = tmp_path / "demand.yaml"
    demand.write_text(DEMAND)
    quote = tmp_path / "quote.json"
    assert run(["quote", str(cat), str(demand), "-o", str(quote), "--at", AT], capsys)[0] == 0
    genuine = load_quote(quote)
    # the forger reprices the quote from a doctored copy of the listing (base 600 -> 300)
    listing = open_catalog(cat).listing
    sheet = listing.prices.model_copy(update={"base_per_accepted_hour": Decimal("300.00")})
    cheap, _ = build_quote(
        listing.model_copy(update={"prices": sheet}),
        genuine.demand,
        now=datetime.strptime(genuine.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        catalog=str(cat),
    )
    forged = cheap.model_copy(update={"quote_id": genuine.quote_id,
                                      "listing_digest": genuine.listing_digest})  # fmt: skip
    write_quote(quote, forged)
    assert load_quote(quote).total < genuine.total  # its arithmetic adds up
    contract = tmp_path / "contract.yaml"
    code, out, err = _draft(quote, contract, capsys)
    assert code == 1 and out == "" and not contract.exists()
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "factors[0].value is '300.00' in the quote but '600.00' from the centre's signed" in err
    # a catalogue rebuilt since the quote: the quote names the old listing
    write_quote(quote, genuine)
    assert run(["catalog", "build", str(datasets[0]), "-o", str(cat), "--key",
                "hubei-centre"], capsys)[0] == 0  # fmt: skip
    code, _, err = run(["contract", "init", "--from-quote", str(quote), "--buyer", "agibot"],
                       capsys)  # fmt: skip
    assert code == 1 and "priced against listing #1" in err and "holds listing #2" in err
    # a catalogue nowhere to be found
    moved = genuine.model_copy(update={"catalog": str(tmp_path / "gone")})
    write_quote(quote, moved)
    code, _, err = run(["contract", "init", "--from-quote", str(quote)], capsys)
    assert code == 1 and "cannot open the catalogue" in err and "--catalog" in err


def test_sample_pack_and_provenance_from_the_cli(
    datasets: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["keys", "generate", "hubei-centre", "--role", "centre"], capsys)
    pack = tmp_path / "pack"
    code, out, err = run(
        ["catalog", "sample", str(datasets[0]), "-o", str(pack), "--key", "hubei-centre",
         "--per-cell", "1", "--max", "3"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "3 episodes" in out and "QC report" in out and "left out by --max" in out
    code, out, _ = run(["catalog", "provenance", str(pack)], capsys)
    assert code == 0
    assert "links        collection → processing → qc → sample" in out
    ids = json.loads(run(["catalog", "provenance", str(pack), "--json"], capsys)[1])
    episode = ids[0]["sample"]["episodes"][0]["episode_id"]
    code, out, _ = run(["catalog", "provenance", str(pack), "--episode", episode, "--json"], capsys)
    origin = json.loads(out)
    assert code == 0 and origin["operator_id"].startswith("op-") and origin["site"] == "Wuhan"
    code, _, err = run(["catalog", "provenance", str(pack), "--episode", "nope"], capsys)
    assert code == 1 and "in no provenance chain" in err
    code, _, err = run(["catalog", "sample", str(datasets[0]), "-o", str(pack), "--key",
                        "hubei-centre"], capsys)  # fmt: skip
    assert code == 1 and err.startswith("error: ") and "already exists" in err


def test_browsing_needs_a_trusted_untampered_listing(
    datasets: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run(["keys", "generate", "hubei-centre", "--role", "centre"], capsys)
    cat = tmp_path / "catalog"
    assert run(["catalog", "build", str(datasets[1]), "-o", str(cat), "--key",
                "hubei-centre"], capsys)[0] == 0  # fmt: skip
    monkeypatch.setenv("EMBODEX_HOME", str(tmp_path / "buyer-home"))  # another machine
    code, _, err = run(["catalog", "show", str(cat)], capsys)
    assert code == 1 and "do not trust" in err and "keys import" in err
    code, out, _ = run(["catalog", "show", str(cat), "--trust", str(cat / "identity.json")], capsys)
    assert code == 0 and "verified" in out
    run(["keys", "import", str(cat / "identity.json")], capsys)
    listing = cat / "listing.json"
    env = json.loads(listing.read_text())
    env["signatures"][0]["sig"] = spoil(env["signatures"][0]["sig"])
    listing.write_text(json.dumps(env))
    code, out, err = run(["catalog", "show", str(cat)], capsys)
    assert code == 1 and out == "" and "does not verify" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    code, _, err = run(["catalog", "show", str(tmp_path / "empty")], capsys)
    assert code == 1 and "catalog/listing.json is missing" in err
    # a catalogue published without a sample pack: say so, and how a centre publishes one
    channel = tmp_path / "channel"
    monkeypatch.setenv("EMBODEX_HOME", str(tmp_path / "centre-home"))
    run(["keys", "generate", "hubei-centre", "--role", "centre"], capsys)
    cat2 = tmp_path / "catalog2"
    assert run(["catalog", "build", str(datasets[1]), "-o", str(cat2), "--key",
                "hubei-centre"], capsys)[0] == 0  # fmt: skip
    assert run(["catalog", "publish", str(cat2), str(channel), "--key", "hubei-centre"],
               capsys)[0] == 0  # fmt: skip
    code, _, err = run(["catalog", "pull", str(channel), "-o", str(tmp_path / "s")], capsys)
    assert code == 1 and "publishes no sample pack" in err and "catalog sample" in err
    assert "qc run" not in err and len(err.strip().splitlines()) == 1


def test_prices_template_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["catalog", "prices"], capsys)
    path = tmp_path / "prices.yaml"
    path.write_text(out)
    assert code == 0 and load_price_sheet(path).base_per_accepted_hour == 600


def test_quote_and_contract_init_refuse_a_demand_dated_in_the_past(
    datasets: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not only `contract sign`: a quote and a draft of a demand whose dates are past are
    refused, in one line with the fix, before anything is written."""
    run(["keys", "generate", "hubei-centre", "--role", "centre"], capsys)
    run(["keys", "generate", "agibot", "--role", "buyer"], capsys)
    cat = tmp_path / "catalog"
    assert run(["catalog", "build", *map(str, datasets), "-o", str(cat), "--key",
                "hubei-centre", "--capacity", str(EXAMPLES / "capacity.yaml")],
               capsys)[0] == 0  # fmt: skip
    demand, quote = tmp_path / "demand.yaml", tmp_path / "quote.json"
    demand.write_text(DEMAND)  # January 2026: past by now
    cases = [(None, "its horizon 2026-03-01 is past"),
             ("2026-01-06T09:00:00Z", "it starts on 2026-01-05, before today")]  # fmt: skip
    for at, past in cases:
        code, out, err = run(
            ["quote", str(cat), str(demand), "-o", str(quote), *(["--at", at] if at else [])],
            capsys,
        )
        assert code == 1 and out == "" and not quote.exists(), err
        assert err.startswith("error: the demand 'CLI pilot' is dated in the past: ")
        assert past in err
        assert "Set start to " in err and len(err.strip().splitlines()) == 1
    # a quote made in time, drafted into a contract after its dates passed
    assert run(["quote", str(cat), str(demand), "-o", str(quote), "--at", AT], capsys)[0] == 0
    contract = tmp_path / "contract.yaml"
    args = ["contract", "init", "--from-quote", str(quote), "--buyer", "agibot", "-o"]
    code, _, err = run([*args, str(contract), "--at", "2026-01-07"], capsys)
    assert code == 1 and not contract.exists() and "before today (2026-01-07 in UTC)" in err
    code, _, err = run([*args, str(contract)], capsys)  # today, by the clock
    assert code == 1 and not contract.exists() and "its horizon 2026-03-01 is past" in err
    assert run([*args, str(contract), "--at", AT_DAY], capsys)[0] == 0
