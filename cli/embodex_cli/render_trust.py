"""Text rendering of keys, contracts and ledgers for people (scripts use --json)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .output import err
from .render import table

if TYPE_CHECKING:
    from embodex.contract.sign import ContractAction
    from embodex.contract.summary import ContractCheck, ContractSummary
    from embodex.trust import KeyDetails, KeyInfo, LedgerReport, LedgerView, NewKey

__all__ = [
    "contract_action_lines",
    "contract_check_lines",
    "contract_lines",
    "key_lines",
    "keys_lines",
    "ledger_lines",
    "ledger_report_lines",
    "ledger_rows",
    "new_key_lines",
    "short",
]


def short(digest: str | None, n: int = 12) -> str:
    """``sha256:0123456789ab…`` — enough to recognise, not to compare."""
    if not digest:
        return "-"
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:n]}…" if hexpart else digest[:n]


def _rules(rules: list[dict[str, Any]]) -> str:
    parts = []
    for r in rules:
        text = r["action"]
        if r.get("purposes"):
            text += " for " + ", ".join(r["purposes"])
        if r.get("target"):
            text += f" ({r['target']})"
        parts.append(text)
    return "; ".join(parts) or "-"


def contract_lines(d: ContractSummary) -> list[str]:
    """The human summary of ``show_contract``'s result."""
    term, vol, scope, acc, price, usage = (
        d["term"],
        d["volume"],
        d["scope"],
        d["acceptance"],
        d["price"],
        d["usage"],
    )
    signers = {s["role"] for s in d["signed_by"]}
    lines = [
        f"{d['contract_id']} v{d['version']}: {d['title']}",
        f"  state        {d['state']} (as of {d['as_of']})"
        + ("" if d["verified"] else " — unsigned draft, nothing verified"),
        f"  digest       {d['digest']}",
    ]
    for role in ("centre", "buyer"):
        p = d["parties"][role]
        mark = "signed" if role in signers else "not signed"
        org = f", {p['organisation']}" if p.get("organisation") else ""
        lines.append(f"  {role:<12} {p['name']}{org} ({p['key_id']}) — {mark}")
    lines += [
        f"  term         {term['start']} .. {term['end']}: {term['deliveries']} deliveries, "
        f"every {term['cadence']}, due {term['delivery_deadline']} after each period "
        f"({term['timezone']}); buyer accepts within {term['acceptance_window_days']} days",
        f"  volume       {vol['total_hours']} h in total, at least {vol['min_hours_per_delivery']}"
        f" h per delivery ({vol['hours_due_per_period']} h due per period)",
        f"  scope        skills {', '.join(scope['skills'])}; {len(scope['scene_types'])} scene "
        f"types"
        + (f", {len(scope['scene_ids'])} scenes" if scope.get("scene_ids") else "")
        + f"; robots {', '.join(scope['robot_models'])}",
        f"               cameras {', '.join(scope['required_cameras']) or '-'}; "
        f"{scope['fps']} fps; format {scope['format_version']}",
        f"  acceptance   QC profile {acc['qc_profile_id']} ({short(acc['qc_profile_digest'])}); "
        f"pass rate >= {acc['min_pass_rate']}, success rate >= {acc['min_success_rate']}"
        + "".join(
            f", {t['metric']}"
            + (f" >= {t['min']}" if t.get("min") is not None else "")
            + (f" <= {t['max']}" if t.get("max") is not None else "")
            for t in acc["thresholds"]
        )
        + f"; rejected episodes replaced within {acc['replacement_days']} days",
        f"  price        {price['per_accepted_hour']} {price['currency']} per accepted hour "
        f"({price['full_volume_amount']} {price['currency']} for the full volume); "
        f"{price['payment_terms']}",
        f"  permitted    {_rules(usage['permissions'])}",
        f"  prohibited   {_rules(usage['prohibitions'])}",
        f"  data         kept {usage['retention_days']} days; made in {usage['origin_region']}; "
        f"may go to {', '.join(usage['allowed_regions'])}"
        + (
            f" (approval {usage['transfer_approval_ref']})"
            if usage.get("transfer_approval_ref")
            else ""
        ),
    ]
    origin = d.get("origin")
    if origin:
        lines.append(
            f"  origin       quote {origin['quote_id']} ({short(origin['quote_digest'])}) of "
            f"listing #{origin['listing_sequence']} ({short(origin['listing_digest'])})"
        )
    if d["history"]:
        lines.append(
            "  history      "
            + ", ".join(f"v{h['version']} {short(h['digest'])}" for h in d["history"])
        )
    pending = d.get("pending_amendment")
    if pending:
        lines.append(
            f"  amendment    v{pending['version']} {short(pending['digest'])} awaits a signature"
            f" (signed by {', '.join(pending['signed_by'])})"
        )
    t = d.get("termination")
    if t:
        lines.append(f"  termination  effective {t['effective_date']}: {t['reason']}")
    return lines


def ledger_rows(view: LedgerView) -> list[list[str]]:
    """Rows of the ledger table (actors by key name when known)."""
    return [
        [
            str(e.seq),
            e.time.isoformat(timespec="seconds"),
            view.actor(e),
            e.kind,
            short(e.ref),
            " ".join(filter(None, [e.note, f"[region {e.region}]" if e.region else None])),
        ]
        for e in view.entries
    ]


def ledger_lines(view: LedgerView) -> Iterator[str]:
    yield table(["seq", "time", "actor", "event", "document", "note"], ledger_rows(view))


def ledger_report_lines(report: LedgerReport) -> Iterator[str]:
    for note in report.notes:
        yield err(f"note: {note}")
    for p in report.problems:
        yield err(f"problem: {p.kind}: {p.message}")
    if report.ok:
        yield (
            f"ok: {report.entries} entries, every signature and link verifies, "
            f"signed head at entry {report.head_seq}"
        )


def new_key_lines(k: NewKey) -> Iterator[str]:
    lock = "encrypted" if k.encrypted else "not encrypted"
    i = k.identity
    yield f"generated {i.role} key {i.name} ({i.key_id}, private key {lock})"


def keys_lines(infos: Sequence[KeyInfo]) -> Iterator[str]:
    if not infos:
        yield "no keys yet: embodex keys generate NAME --role centre|buyer|reviewer"
        return
    yield table(
        ["name", "role", "key id", "private key"],
        [
            [
                i.identity.name,
                i.identity.role,
                i.identity.key_id,
                ("encrypted" if i.encrypted else "yes")
                + ("" if i.permissions_ok else " (LOOSE PERMISSIONS)")
                if i.has_private_key
                else "no (public only)",
            ]
            for i in infos
        ],
    )


def key_lines(k: KeyDetails) -> Iterator[str]:
    data = k.to_json()
    for key in ("name", "role", "key_id", "public_key", "identity_file", "private_key_file"):
        yield f"{key.replace('_', ' '):>16}  {data[key] or '-'}"
    yield f"{'encrypted':>16}  {'yes' if k.encrypted else 'no'}"


def contract_action_lines(action: ContractAction) -> Iterator[str]:
    v = action.verified
    c = v.latest
    who = ", ".join(v.signed_by) or "nobody"
    yield (
        f"{action.event}: {c.contract_id} v{c.version} signed by {who} -> {action.path} "
        f"(state {v.state.value}, digest {short(c.digest)})"
    )


def contract_check_lines(check: ContractCheck) -> Iterator[str]:
    """The verdict for people; a failed check prints nothing here (its error is the message)."""
    v = check.verified
    if not check.ok or v is None:
        return
    c = v.contract
    who = ", ".join(f"{p.role} {p.name}" for p in v.latest_signers)
    yield f"ok: {c.contract_id} v{c.version} {v.state.value}, signed by {who}, digest {c.digest}"
