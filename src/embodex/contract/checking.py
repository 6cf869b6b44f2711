"""Checking a delivered batch against the contract: every violation, each with its evidence.

The delivery layer builds a :class:`BatchSummary` from the batch's episode table and passes
the batch's (verified) QC manifest; :func:`check_batch` returns the list of
:class:`Violation` — empty when the batch meets the contract.

QC manifest fields read (all decimal strings; floats are refused by the signing rules):
``aggregates.overall.pass_rate``, ``aggregates.overall.success_rate``,
``aggregates.overall.<metric>`` for each contract threshold, and the profile digest at
``profile.digest`` (or ``profile_digest``); the dataset digest at ``dataset.digest`` (or
``dataset_digest``) when the batch names one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import Field, model_validator

from ..trust.types import Dec, Digest, Hours, Identifier, Timestamp, TrustModel, dec_str
from ..units import count, plural
from .file import VerifiedContract
from .model import Contract
from .periods import Period, period_for

__all__ = [
    "BatchSummary",
    "EpisodeSummary",
    "QcMeasure",
    "Violation",
    "batch_period",
    "check_batch",
    "measure_qc",
    "qc_field",
    "replaced_batch",
]


class EpisodeSummary(TrustModel):
    """What the contract looks at in one delivered episode."""

    episode_id: Identifier
    skill: str | None = None
    scene_type: str | None = None
    scene_id: str | None = None
    robot_model: str | None = None
    hours: Hours
    cameras: list[str] = Field(default_factory=list)
    fps: Dec


class BatchSummary(TrustModel):
    """One delivery as the contract sees it.

    ``period`` names the delivery period it is for (1-based); when absent the period is
    derived from ``delivered_at``. ``replacement_for`` names the batch whose rejected episodes
    this one replaces.
    """

    batch_number: int = Field(ge=1)
    delivered_at: Timestamp
    period: int | None = Field(default=None, ge=1)
    replacement_for: int | None = Field(default=None, ge=1)
    dataset_digest: Digest | None = None
    episodes: list[EpisodeSummary]

    @model_validator(mode="after")
    def _unique_ids(self) -> BatchSummary:
        ids = [e.episode_id for e in self.episodes]
        if len(set(ids)) != len(ids):
            raise ValueError("an episode id appears twice in the batch")
        return self

    @property
    def hours(self) -> Decimal:
        return sum((e.hours for e in self.episodes), Decimal(0))


class Violation(TrustModel):
    """One way a batch breaks the contract."""

    rule: str = Field(description="Contract field broken, e.g. scope.skills, schedule.deadline.")
    message: str
    episode_ids: list[str] = Field(default_factory=list)
    measured: str | None = None
    threshold: str | None = None


def replaced_batch(batch: BatchSummary, replaceable: Collection[int]) -> int | None:
    """The batch ``batch`` really replaces: its ``replacement_for`` when that batch came
    before it and had episodes rejected or was revoked (``replaceable``), else None — a batch
    naming any other is judged as an ordinary delivery (deadline, minimum hours, period).
    """
    n = batch.replacement_for
    return n if n is not None and n < batch.batch_number and n in replaceable else None


def batch_period(contract: Contract, batch: BatchSummary) -> Period | None:
    """The period ``batch`` delivers for (explicit, or derived from its delivery time)."""
    periods = contract.periods()
    if batch.period is not None:
        return periods[batch.period - 1] if batch.period <= len(periods) else None
    return period_for(periods, batch.delivered_at)


def _grouped(
    batch: BatchSummary,
    rule: str,
    key: Callable[[EpisodeSummary], str | None],
    describe: Callable[[str, int], str],
    threshold: str,
) -> list[Violation]:
    """One violation per distinct bad value (``key`` is None for a good episode)."""
    bad: dict[str, list[str]] = defaultdict(list)
    for ep in batch.episodes:
        value = key(ep)
        if value is not None:
            bad[value].append(ep.episode_id)
    return [
        Violation(
            rule=rule,
            message=describe(value, len(ids)),
            episode_ids=ids,
            measured=value,
            threshold=threshold,
        )
        for value, ids in sorted(bad.items())
    ]


def _outside(attr: str, allowed: set[str]) -> Callable[[EpisodeSummary], str | None]:
    def key(ep: EpisodeSummary) -> str | None:
        value = getattr(ep, attr)
        return None if value in allowed else str(value)

    return key


def _out_of_scope(label: str) -> Callable[[str, int], str]:
    def describe(value: str, n: int) -> str:
        what = f"no {label}" if value == "None" else f"{label} {value!r}"
        return f"{count(n, 'episode')} with {what}, outside the contract's scope"

    return describe


def _scope_violations(contract: Contract, batch: BatchSummary) -> list[Violation]:
    scope = contract.scope
    checks: list[tuple[str, str, list[str] | None]] = [
        ("scope.skills", "skill", scope.skills),
        ("scope.scene_types", "scene_type", scope.scene_types),
        ("scope.scene_ids", "scene_id", scope.scene_ids),
        ("scope.robot_models", "robot_model", scope.robot_models),
    ]
    out = []
    for rule, attr, allowed in checks:
        if allowed is None:
            continue
        label = attr.replace("_", " ")
        out += _grouped(
            batch,
            rule,
            _outside(attr, set(allowed)),
            _out_of_scope(label),
            ", ".join(sorted(allowed)),
        )
    required = set(scope.required_cameras)
    out += _grouped(
        batch,
        "scope.required_cameras",
        lambda ep: ", ".join(sorted(required - set(ep.cameras))) or None,
        lambda v, n: (
            f"{count(n, 'episode')} {'lacks' if n == 1 else 'lack'} "
            f"{plural('camera', v.count(',') + 1)} {v}"
        ),
        ", ".join(scope.required_cameras),
    )
    out += _grouped(
        batch,
        "scope.fps",
        lambda ep: None if ep.fps == scope.fps else dec_str(ep.fps),
        lambda v, n: f"{count(n, 'episode')} at {v} fps, contract says {scope.fps}",
        str(scope.fps),
    )
    return out


def qc_field(manifest: dict[str, Any] | None, *paths: str) -> Any:
    """The first of the dotted ``paths`` present in ``manifest`` (None when none is)."""
    for path in paths:
        node: Any = manifest
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return node
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, str):
        try:
            d = Decimal(value)
        except InvalidOperation:
            return None
        return d if d.is_finite() else None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return None


@dataclass(frozen=True)
class QcMeasure:
    """One QC aggregate the contract bounds: its value in the manifest and the bound."""

    rule: str
    metric: str
    raw: Any
    value: Decimal | None
    low: Decimal | None
    high: Decimal | None

    @property
    def bound(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f">= {dec_str(self.low)}")
        if self.high is not None:
            parts.append(f"<= {dec_str(self.high)}")
        return " and ".join(parts)

    @property
    def ok(self) -> bool:
        v = self.value
        return (
            v is not None
            and (self.low is None or v >= self.low)
            and (self.high is None or v <= self.high)
        )


def measure_qc(contract: Contract, qc: dict[str, Any] | None) -> list[QcMeasure]:
    """Every QC aggregate the contract bounds (pass rate, success rate, thresholds)."""
    acc = contract.acceptance
    bounds: list[tuple[str, str, Decimal | None, Decimal | None]] = [
        ("acceptance.min_pass_rate", "pass_rate", acc.min_pass_rate, None),
        ("acceptance.min_success_rate", "success_rate", acc.min_success_rate, None),
        *((f"acceptance.thresholds.{t.metric}", t.metric, t.min, t.max) for t in acc.thresholds),
    ]
    out = []
    for rule, metric, low, high in bounds:
        raw = qc_field(qc, f"aggregates.overall.{metric}")
        out.append(QcMeasure(rule, metric, raw, _decimal(raw), low, high))
    return out


def _qc_violations(
    contract: Contract, batch: BatchSummary, qc: dict[str, Any] | None
) -> list[Violation]:
    acc = contract.acceptance
    if qc is None:
        return [Violation(rule="acceptance.qc", message="the batch has no QC manifest")]
    out = []
    profile = qc_field(qc, "profile.digest", "profile_digest")
    if profile != acc.qc_profile_digest:
        out.append(
            Violation(
                rule="acceptance.qc_profile_digest",
                message="the QC manifest was made with another QC profile than the contract's",
                measured=str(profile),
                threshold=acc.qc_profile_digest,
            )
        )
    dataset = qc_field(qc, "dataset.digest", "dataset_digest")
    if batch.dataset_digest is not None and dataset != batch.dataset_digest:
        out.append(
            Violation(
                rule="acceptance.qc",
                message="the QC manifest is for another dataset than this batch",
                measured=str(dataset),
                threshold=batch.dataset_digest,
            )
        )
    for m in measure_qc(contract, qc):
        if m.value is None:
            out.append(
                Violation(
                    rule=m.rule,
                    message=f"the QC manifest has no usable aggregates.overall.{m.metric}",
                    measured=None if m.raw is None else str(m.raw),
                    threshold=m.bound,
                )
            )
        elif not m.ok:
            out.append(
                Violation(
                    rule=m.rule,
                    message=f"{m.metric} {dec_str(m.value)} is outside the contract's bound "
                    f"{m.bound}",
                    measured=dec_str(m.value),
                    threshold=m.bound,
                )
            )
    return out


def _schedule_violations(
    contract: Contract, batch: BatchSummary, terminated_on: date | None
) -> list[Violation]:
    out = []
    when = batch.delivered_at
    period = batch_period(contract, batch)
    if terminated_on is not None and when.date() >= terminated_on:
        out.append(
            Violation(
                rule="contract.terminated",
                message=f"delivered after the contract was terminated ({terminated_on})",
                measured=when.isoformat(),
                threshold=terminated_on.isoformat(),
            )
        )
    if period is None:
        out.append(
            Violation(
                rule="schedule.term",
                message="delivered outside the contract's term (no delivery period matches)",
                measured=when.isoformat(),
                threshold=f"{contract.schedule.start_date}..{contract.schedule.end_date}",
            )
        )
    elif when >= period.deadline and batch.replacement_for is None:
        out.append(
            Violation(
                rule="schedule.delivery_deadline",
                message=f"delivered after the deadline of period {period.number}",
                measured=when.isoformat(),
                threshold=period.deadline.isoformat(),
            )
        )
    elif when < _midnight(period):
        out.append(
            Violation(
                rule="schedule.term",
                message=f"delivered before period {period.number} began",
                measured=when.isoformat(),
                threshold=period.start.isoformat(),
            )
        )
    if batch.replacement_for is None and batch.hours < contract.volume.min_hours_per_delivery:
        out.append(
            Violation(
                rule="volume.min_hours_per_delivery",
                message=f"the batch holds {dec_str(batch.hours)} h, below the minimum",
                measured=dec_str(batch.hours),
                threshold=dec_str(contract.volume.min_hours_per_delivery),
            )
        )
    return out


def _midnight(period: Period) -> datetime:
    return datetime.combine(period.start, time(0), tzinfo=period.deadline.tzinfo)


def check_batch(
    contract: Contract | VerifiedContract,
    batch: BatchSummary,
    qc_manifest: dict[str, Any] | None,
) -> list[Violation]:
    """Every way ``batch`` breaks ``contract``: scope (skill, scene type and id, robot,
    cameras, fps), QC (profile digest, pass rate, success rate, thresholds), schedule
    (deadline, term, termination) and volume (minimum hours). Empty list: the batch complies.

    Pass a :class:`VerifiedContract` to also catch deliveries after a termination.

    Example::

        violations = check_batch(verified, summary, verify_qc_manifest(env, centre))
        for v in violations:
            print(v.rule, v.message, v.episode_ids[:5])
    """
    terminated_on = None
    if isinstance(contract, VerifiedContract):
        if contract.termination is not None:
            terminated_on = contract.termination.effective_date
        contract = contract.contract
    return [
        *_scope_violations(contract, batch),
        *_qc_violations(contract, batch, qc_manifest),
        *_schedule_violations(contract, batch, terminated_on),
    ]
