"""QC profiles: the shipped default, files that extend it, overrides and digests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from embodex.canonical import digest_json
from embodex.errors import ConfigError, ProfileError
from embodex.qc import RULES, default_profile, load_profile
from embodex.qc.profile import builtin_profiles, parse_overrides

SPEC = Path(__file__).resolve().parents[1] / "specs" / "qc.md"


def test_default_profile_lists_every_rule_and_has_a_stable_digest() -> None:
    p = default_profile()
    assert (p.id, p.version, p.nominal_fps) == ("humanoid-30fps", 1, 30)
    assert list(p.rules) == list(RULES)
    assert p.digest == digest_json(p.content) and p.digest.startswith("sha256:")
    assert len(p.digest) == len("sha256:") + 64
    # loading again (or by id) gives the same digest: it depends on content only
    assert load_profile("humanoid-30fps").digest == p.digest
    assert builtin_profiles() == ["humanoid-30fps"]
    # the shipped YAML is complete: it validates without `extends`
    shipped = Path(__file__).resolve().parents[1] / "src/embodex/qc/profiles/humanoid-30fps.yaml"
    raw = yaml.safe_load(shipped.read_text())
    assert "extends" not in raw and set(raw["rules"]) == set(RULES)


def test_every_rule_and_parameter_is_documented_in_the_spec() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for rule_id, spec in RULES.items():
        assert f"`{rule_id}`" in text, f"specs/qc.md does not document {rule_id}"
        for param in spec.params.model_fields:
            if param != "enabled":
                assert f"`{param}`" in text, f"specs/qc.md does not mention {rule_id}.{param}"


def test_a_file_extending_the_default_overrides_a_few_values(tmp_path: Path) -> None:
    f = tmp_path / "acme.yaml"
    f.write_text(
        "extends: humanoid-30fps\nid: acme-qc\nversion: 3\n"
        "rules:\n  timing.gap: {fail: 250}\n  numeric.jerk: {enabled: false}\n"
        "review: {pass_sample_rate: 0.2}\n"
    )
    p = load_profile(f)
    base = default_profile()
    assert (p.id, p.version) == ("acme-qc", 3)
    assert p.rules["timing.gap"] == {**base.rules["timing.gap"], "fail": 250}
    assert p.params("numeric.jerk").enabled is False
    assert "numeric.jerk" not in p.enabled_rules()
    assert p.review.pass_sample_rate == 0.2
    assert p.digest != base.digest
    # a second file can extend the first, by relative path
    g = tmp_path / "stricter.yaml"
    g.write_text("extends: acme.yaml\nrules:\n  timing.gap: {warn: 80}\n")
    q = load_profile(g)
    assert q.rules["timing.gap"]["warn"] == 80 and q.rules["timing.gap"]["fail"] == 250


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("extends: humanoid-30fps\nrules:\n  timing.nope: {warn: 1}\n", "unknown rule"),
        ("extends: humanoid-30fps\nrules:\n  timing.gap: {wran: 1}\n", "timing.gap.wran"),
        ("extends: humanoid-30fps\nrules:\n  timing.gap: {warn: 300, fail: 200}\n", "fail"),
        ("extends: humanoid-30fps\nrules:\n  timing.gap: {warn: fast}\n", "timing.gap.warn"),
        ("extends: humanoid-30fps\nnominal_fps: -1\n", "nominal_fps"),
        (
            "id: x\nversion: 1\nnominal_fps: 30\nimages: {sample_frames: 8}\n"
            "review: {pass_sample_rate: 0.1, min_pass_per_operator: 1}\nrules: {}\n",
            "not configured",
        ),
        ("extends: no-such-profile\n", "no built-in QC profile"),
        ("[1, 2]\n", "mapping"),
        ("rules: {a: [\n", "not valid YAML"),
    ],
)
def test_bad_profiles_are_refused_with_the_reason(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ProfileError, match=match) as info:
        load_profile(f)
    assert isinstance(info.value, ConfigError)  # the CLI maps it like any bad input
    assert "\n" not in info.value.one_line()


def test_overrides_from_the_command_line() -> None:
    over = parse_overrides(
        ["timing.gap.fail=250", "numeric.jerk.warn=null", "images.sample_frames=4"]
    )
    assert over == {"timing.gap.fail": 250, "numeric.jerk.warn": None, "images.sample_frames": 4}
    p = default_profile().with_overrides(over)
    assert p.rules["timing.gap"]["fail"] == 250 and p.rules["numeric.jerk"]["warn"] is None
    assert p.images.sample_frames == 4
    for bad, match in (("nothing", "KEY=VALUE"), ("what.ever.x=1", "unknown profile key")):
        with pytest.raises(ProfileError, match=match):
            default_profile().with_overrides(parse_overrides([bad]))
    with pytest.raises(ProfileError, match="sample_frames"):
        default_profile().with_overrides({"images.sample_frames": 0})
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile("/no/such/profile.yaml")


def test_the_robot_section_merges_by_name_and_is_checked(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(
        "extends: humanoid-30fps\nid: base\nversion: 1\n"
        "robot:\n  limits: {j1: [-1, 1], j2: [-2, 2]}\n  camera_mounts: {cam: fixed}\n"
    )
    top = tmp_path / "top.yaml"
    top.write_text("extends: base.yaml\nid: top\nversion: 1\nrobot:\n  limits: {j2: [-3, 3]}\n")
    p = load_profile(top)
    assert p.robot.limits == {"j1": (-1.0, 1.0), "j2": (-3.0, 3.0)}
    assert p.robot.camera_mounts == {"cam": "fixed"}
    q = p.with_overrides({"robot.velocity_limits.j1": 2.5})
    assert q.robot.velocity_limits == {"j1": 2.5} and q.digest != p.digest
    with pytest.raises(ProfileError, match="not a range"):
        p.with_overrides({"robot.limits.j3": [1, -1]})
    with pytest.raises(ProfileError, match="unknown profile key") as info:
        p.with_overrides({"robot.wheels.j1": 1})
    assert info.value.hint is not None and "robot.limits.<joint>" in info.value.hint
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: humanoid-30fps\nrobot:\n  camera_mounts: {cam: ceiling}\n")
    with pytest.raises(ProfileError, match="camera_mounts"):
        load_profile(bad)
