"""Filled-in contract YAML to start from (``embodex contract init --template NAME``).

``hubei-agibot`` follows the reference case: a humanoid collection centre with 23 training
scenes sells teleoperation data (hold_cup, grasp_plate, fold_clothes) to a humanoid-robot
company, delivered weekly for a year and paid per accepted hour.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..errors import ConfigError
from ..format.models import FORMAT_VERSION
from ..format.reference import ROBOT_MODEL, SCENES
from ..qc import default_profile
from ..trust.keys import Identity
from .yamlio import PLACEHOLDER

__all__ = ["TEMPLATES", "render_template"]

TEMPLATES: tuple[str, ...] = ("hubei-agibot",)

#: The all-zero digest older templates used as a "fill me in"; signing refuses it.
UNSET_DIGEST = "sha256:" + "0" * 64


def _party(ident: Identity | None, role: str, organisation: str) -> str:
    if ident is None:
        name, key, key_id = f"{role}-key", PLACEHOLDER, PLACEHOLDER
    else:
        name, key, key_id = ident.name, ident.public_key, ident.key_id
    return (
        f"    name: {name}\n"
        f"    role: {role}\n"
        f"    organisation: {organisation}\n"
        f"    public_key: {key}\n"
        f"    key_id: {key_id}\n"
    )


def _list(items: list[str], indent: int = 4) -> str:
    return "".join(f"{' ' * indent}- {item}\n" for item in items)


def render_template(
    name: str = "hubei-agibot",
    *,
    centre: Identity | None = None,
    buyer: Identity | None = None,
    start: date | None = None,
    qc_profile_digest: str | None = None,
) -> str:
    """The template's YAML text; parties filled from the identities when given, the QC
    profile by ``qc_profile_digest`` (default: the built-in profile, the one ``publish`` and
    ``pull`` use when none is passed).

    Raises :class:`ConfigError` for an unknown template.
    """
    if name not in TEMPLATES:
        raise ConfigError(
            f"unknown contract template {name!r}", hint=f"Use one of: {', '.join(TEMPLATES)}."
        )
    start = start or date.today()
    end = start + timedelta(weeks=52) - timedelta(days=1)
    scene_types = list(dict.fromkeys(s.scene_type for s in SCENES))
    scene_ids = [s.scene_id for s in SCENES]
    if qc_profile_digest is None:  # the built-in profile, which publish and pull use by default
        builtin = default_profile()
        profile_id, digest = builtin.id, builtin.digest
    else:
        profile_id, digest = "agreed-profile", qc_profile_digest
    return f"""\
# embodex data service contract (see specs/contract.md). Humans edit this YAML;
# `embodex contract sign contract.yaml --key NAME` turns it into the signed JSON.
# Money, hours and rates are quoted decimal strings: a bare 12.5 is refused.
kind: embodex.contract
contract_id: hubei-agibot-{start:%Y}-001
version: 1
title: Humanoid teleoperation data service ({len(scene_ids)} scenes, weekly delivery)
parties:
  centre:
{_party(centre, "centre", "Hubei Humanoid Robot Innovation Centre")}  buyer:
{_party(buyer, "buyer", "AgiBot (humanoid robot company)")}  reviewers: []
scope:
  skills:
{_list(["hold_cup", "grasp_plate", "fold_clothes"])}  scene_types:
{_list(scene_types)}  # the centre's {len(scene_ids)} training scenes
  scene_ids: [{", ".join(scene_ids)}]
  robot_models:
{_list([ROBOT_MODEL, "AgiBot-G1"])}  required_cameras:
{_list(["head", "hand_left", "hand_right"])}  fps: 30
  format_version: "{FORMAT_VERSION}"
volume:
  total_hours: "2000"
  min_hours_per_delivery: "20"
schedule:
  start_date: {start.isoformat()}
  end_date: {end.isoformat()}
  cadence: P1W                  # one delivery per week
  delivery_deadline: P2D        # due within 2 days after each week ends
  acceptance_window_days: 7
  timezone: Asia/Shanghai
acceptance:
  qc_profile_id: {profile_id}
  qc_profile_digest: "{digest}"   # the digest of the agreed QC profile
  min_pass_rate: "0.95"
  min_success_rate: "0.80"
  thresholds: []                # e.g. [{{metric: frame_drop_rate, max: "0.01"}}]
  replacement_days: 14
price:
  per_accepted_hour: "600.00"
  currency: CNY
  payment_terms: Invoiced monthly on accepted hours; payment within 30 days of invoice.
usage:
  permissions:
    - action: use
      purposes: [model_training, model_evaluation]
  prohibitions:
    - action: distribute
    - action: sell
    - action: reidentify
      target: operators
  retention_days: 1825
  origin_region: CN
  allowed_regions: [CN]
  transfer_approval_ref: null   # required once allowed_regions leave CN
"""
