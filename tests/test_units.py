"""The one formatter for durations, hours and counts (embodex.units): the unit people choose,
separators, no six-decimal hours, nouns that agree with their counts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from embodex.errors import ConfigError
from embodex.units import (
    amount,
    chosen_unit,
    count,
    duration,
    figure,
    of_count,
    per_unit,
    percent,
    unit_for,
)


def test_auto_picks_the_unit_a_figure_reads_best_in() -> None:
    assert duration(Decimal("8.85")) == "8.85 h"
    assert duration(Decimal("0.008481")) == "30.5 s"  # the 30.5 s
    assert duration(0.081955) == "4.9 min"  # not "0.081955 h"
    assert duration(1234.5) == "1,234.50 h"
    assert duration(0) == "0 h"


def test_a_chosen_unit_is_used_for_every_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    assert duration(Decimal("0.008481"), "h") == "0.00848 h"  # three significant digits
    assert duration(Decimal("8.85"), "min") == "531.0 min"
    assert duration(Decimal("8.85"), "s") == "31,860 s"
    monkeypatch.setenv("EMBODEX_UNITS", "min")
    assert duration(Decimal("0.5")) == "30.0 min"
    assert unit_for([0.001, 40]) == "min"
    monkeypatch.setenv("EMBODEX_UNITS", "hours")
    with pytest.raises(ConfigError, match="EMBODEX_UNITS 'hours' is not one of auto, h, min, s"):
        duration(1)
    with pytest.raises(ConfigError, match="the unit 'd'"):
        chosen_unit("d")


def test_no_figure_prints_six_decimals_of_hours() -> None:
    for v in ("0.000001", "0.008481", "0.081955", "0.5", "12.345678", "1999.999999"):
        for unit in ("h", "min", "s", None):
            figure = duration(Decimal(v), unit).split()[0].replace(",", "")
            whole = figure.split(".")[0]
            significant = figure.replace(".", "").lstrip("0")
            # at most two decimals past the whole part, three significant digits below 1
            assert len(significant) <= max(3, len(whole.lstrip("0")) + 2), (v, unit, figure)


def test_one_unit_for_figures_shown_together() -> None:
    assert unit_for([Decimal("0.008"), Decimal("8.85")]) == "h"
    assert unit_for([0.008, 0.02]) == "min"
    assert unit_for([0.0001]) == "s"
    assert unit_for([]) == "h"


def test_counts_agree_with_their_nouns() -> None:
    assert count(1, "episode") == "1 episode"
    assert count(6, "episode") == "6 episodes"
    assert count(0, "dataset") == "0 datasets"
    assert count(30224, "frame") == "30,224 frames"
    assert count(2, "batch") == "2 batches" and count(3, "entry") == "3 entries"
    assert of_count(6, 6, "episode") == "6 of 6 episodes"
    assert of_count(1, 1, "episode") == "1 of 1 episode"


def test_the_amount_multiplies_back() -> None:
    # the "7.21 CNY (30.5 s × 850.30 CNY)": hours and rate in one unit
    hours, price = Decimal("0.008481"), Decimal("850.30")
    assert amount(hours, price, "CNY") == "0.00848 h × 850.30 CNY/h"
    assert round(0.00848 * 850.30, 2) == 7.21
    assert amount(hours, price, "CNY", "s") == "30.5 s × 0.2362 CNY/s"
    assert round(30.53 * 0.2362, 2) == 7.21
    assert per_unit(price, "min") == "14.17"


def test_fractions_read_as_percentages() -> None:
    assert percent(Decimal("0.05")) == "5 %"
    assert percent(Decimal("0.075")) == "7.5 %"
    assert percent("0.10") == "10 %"
    assert percent("0.91234", 1) == "91.2 %" and percent(Decimal(1), 1) == "100.0 %"


def test_the_ledger_note_of_a_batch_uses_the_formatter(monkeypatch: pytest.MonkeyPatch) -> None:
    from embodex.delivery.records import published_events

    monkeypatch.setenv("EMBODEX_UNITS", "min")  # a signed record ignores the reader's choice
    manifest = {"number": 3, "episodes": [{"episode_id": "a"}], "hours": "0.008481"}
    (event,) = published_events("ch-1", manifest, "sha256:" + "ab" * 32)
    assert event[2] == "ch-1 batch 3: 1 episode, 30.5 s"  # was "1 episodes, 0.008481 h"


def test_a_figure_already_in_its_unit() -> None:
    assert figure(3.4, "s") == "3.4 s" and figure(38.4615, "h") == "38.46 h"
    assert figure(2, "h/week") == "2.00 h/week"
    assert figure(1, "episodes") == "1 episode" and figure(2, "episodes") == "2 episodes"


def test_units_option_of_the_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from .test_cli_format import run

    ds = tmp_path / "ds"
    assert run(["synth", str(ds), "--episodes", "2", "--seed", "1"], capsys)[0] == 0
    code, auto, _ = run(["inspect", str(ds)], capsys)
    assert code == 0 and " s · " in auto
    code, hours, _ = run(["--units", "h", "inspect", str(ds)], capsys)
    assert code == 0 and " h · " in hours and " s · " not in hours
    assert duration(1) == "1.00 h"  # the option ends with the command
    code, _, err = run(["--units", "days", "inspect", str(ds)], capsys)
    assert code == 2 and "days" in err


@pytest.mark.parametrize("unit", ["h", "min", "s", None])
def test_the_amount_line_multiplies_back_to_the_amount_stated(unit: str | None) -> None:
    import random
    import re

    from embodex.trust.types import round_money

    rng = random.Random(16)
    for _ in range(200):
        hours = Decimal(rng.randrange(1, 10**8)) / Decimal(10**6)  # up to 100 h, 6 places
        price = Decimal(rng.randrange(100, 200_000)) / 100
        total = round_money(hours * price, "CNY")
        text = amount(hours, price, "CNY", unit, total=total)
        h, u, r = re.fullmatch(r"([\d,.]+) (h|min|s) × ([\d,.]+) CNY/(?:h|min|s)", text).groups()  # type: ignore[union-attr]
        product = Decimal(h.replace(",", "")) * Decimal(r.replace(",", ""))
        assert abs(product - total) <= Decimal("0.005"), (hours, price, text, total)
        assert u == (unit or "h")
