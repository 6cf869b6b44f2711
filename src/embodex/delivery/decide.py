"""The buyer's decision on a batch: accept, accept in part or reject, episode by episode.

Rules (specs/channel.md §6), applied to the buyer's own QC of the batch and the contract:

* the whole batch is rejected when it cannot be trusted or used — a file that does not
  match its hash, a centre QC manifest for another dataset or profile, a QC aggregate
  outside the contract's bounds (pass rate, success rate, thresholds), delivery outside the
  term or after a termination, or a revocation by the centre;
* otherwise an episode is rejected when the buyer's QC FAILs it, the centre's own QC
  FAILed it, or it lies outside the contract's scope (skill, scene, robot, cameras, fps);
* late delivery and a delivery below the minimum hours are recorded in the receipt but
  reject nothing: they count in the supply status.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ..contract import VerifiedContract
from ..contract.checking import Violation, check_batch, replaced_batch
from ..qc import QCManifest, compare_manifests
from ..units import count
from .documents import BatchManifest

__all__ = ["BATCH_RULES", "Decision", "decide"]

#: Contract rules whose violation rejects the whole batch.
BATCH_RULES = (
    "acceptance.qc",
    "acceptance.qc_profile_digest",
    "acceptance.min_pass_rate",
    "acceptance.min_success_rate",
    "acceptance.thresholds",
    "contract.terminated",
    "schedule.term",
)

Outcome = Literal["accepted", "partial", "rejected"]


@dataclass
class Decision:
    """What the buyer decided, and why."""

    rejected: dict[str, str] = field(default_factory=dict)  # episode id -> reason
    batch_reasons: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    total: int = 0

    @property
    def outcome(self) -> Outcome:
        if not self.rejected:
            return "accepted"
        return "rejected" if len(self.rejected) == self.total else "partial"

    def note(self) -> str | None:
        """The receipt's note: batch-level reasons and QC disagreements, one line each."""
        lines = [*self.batch_reasons]
        if self.disagreements:
            lines.append(
                f"the buyer's QC disagrees with the centre's on "
                f"{count(len(self.disagreements), 'point')}: " + "; ".join(self.disagreements[:10])
            )
        return "\n".join(lines) or None


def _batch_rule(rule: str) -> bool:
    return any(rule == r or rule.startswith(r + ".") for r in BATCH_RULES)


def reject_all(manifest: BatchManifest, reason: str) -> Decision:
    """A batch rejected as a whole before its QC could run (integrity, revocation)."""
    return Decision(
        rejected={eid: reason for eid in manifest.episode_ids},
        batch_reasons=[reason],
        total=len(manifest.episodes),
    )


def decide(
    contract: VerifiedContract,
    manifest: BatchManifest,
    buyer_qc: QCManifest,
    centre_qc: QCManifest,
    *,
    revoked: str | None = None,
    delivered_at: datetime | None = None,
    replaceable: Collection[int] = (),
) -> Decision:
    """Decide on a downloaded, verified batch (see the module docstring).

    ``revoked`` is the reason of a revocation notice naming this batch, if any;
    ``delivered_at`` the time the schedule is judged by (default: the manifest's
    ``published_at``); ``replaceable`` the earlier batches that had episodes rejected or
    were revoked (a batch claiming to replace another is judged as an ordinary one).
    """
    qc_doc = buyer_qc.model_dump(mode="json")
    summary = manifest.summary()
    summary = summary.model_copy(
        update={"replacement_for": replaced_batch(summary, replaceable)}
        | ({"delivered_at": delivered_at} if delivered_at is not None else {})
    )
    violations = check_batch(contract, summary, qc_doc)
    decision = Decision(violations=violations, total=len(manifest.episodes))
    decision.disagreements = compare_manifests(centre_qc, buyer_qc)
    reasons: dict[str, list[str]] = {eid: [] for eid in manifest.episode_ids}
    if centre_qc.dataset_digest != manifest.dataset_digest:
        decision.batch_reasons.append(
            "acceptance.qc: the centre's QC manifest is for another dataset than this batch"
        )
    if centre_qc.profile.digest != contract.contract.acceptance.qc_profile_digest:
        decision.batch_reasons.append(
            "acceptance.qc_profile_digest: the centre checked the batch with another QC profile"
        )
    if revoked is not None:
        decision.batch_reasons.append(f"revoked by the centre: {revoked}")
    for v in violations:
        if _batch_rule(v.rule):
            decision.batch_reasons.append(f"{v.rule}: {v.message}")
        elif v.rule.startswith("scope."):
            for eid in v.episode_ids:
                reasons.setdefault(eid, []).append(f"{v.rule}: {v.message}")
    centre = {e.episode_id: e for e in centre_qc.episodes}
    for ev in buyer_qc.episodes:
        if ev.verdict == "FAIL":
            rules = ", ".join(ev.rules) or "review"
            said = centre.get(ev.episode_id)
            extra = (
                f" (the centre's QC said {said.verdict})" if said and said.verdict != "FAIL" else ""
            )
            reasons.setdefault(ev.episode_id, []).append(f"qc FAIL: {rules}{extra}")
        else:
            said = centre.get(ev.episode_id)
            if said is not None and said.verdict == "FAIL":
                reasons.setdefault(ev.episode_id, []).append(
                    "qc: the centre's own QC FAILs it (" + (", ".join(said.rules) or "review") + ")"
                )
    batch_reason = "; ".join(decision.batch_reasons)
    for eid in manifest.episode_ids:
        parts = ([f"batch rejected: {batch_reason}"] if batch_reason else []) + reasons[eid]
        if parts:
            decision.rejected[eid] = "; ".join(parts)
    return decision


def reasons_summary(rejected: Mapping[str, str]) -> dict[str, int]:
    """How many episodes were rejected for each reason (for reports)."""
    out: dict[str, int] = {}
    for reason in rejected.values():
        out[reason] = out.get(reason, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))
