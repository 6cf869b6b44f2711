"""The README's "Using it" tour runs as written: every block marked ``<!-- tour -->``, in an
empty folder with a fresh EMBODEX_HOME, against a folder channel and against the local S3
server (moto). This is the project's last guard: when a command the README shows changes,
this test fails naming the README block, line and command (see tests/_readme_tour.py).
"""

from __future__ import annotations

import re
import shutil
import stat
import sys
from pathlib import Path

import pytest

from ._readme_tour import Block, TourResult, run_tour, tour_blocks, tour_env

README = Path(__file__).resolve().parents[1] / "README.md"
BIN = Path(sys.executable).parent


def _env(home: Path, channel: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = tour_env(home, channel, extra)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def _run(
    tmp_path: Path, blocks: list[Block], channel: str, **extra: str
) -> tuple[Path, TourResult]:
    work = tmp_path / "tour"
    work.mkdir()
    result = run_tour(blocks, work, _env(tmp_path / "home", channel, extra))
    return work, result


def test_the_tour_is_marked_and_covers_the_trade() -> None:
    blocks = tour_blocks(README.read_text(encoding="utf-8"))
    code = "".join(b.code for b in blocks)
    assert [b.language for b in blocks].count("python") >= 1
    # every step of the trade is in the tour, in a block that runs
    for command in (
        "embodex package", "embodex qc run", "embodex trim", "embodex keys generate",
        "embodex catalog build", "--capacity", "embodex quote", "embodex contract init",
        "embodex contract sign", "embodex publish", "embodex pull", "embodex verify",
        "embodex receipt", "embodex supply status", "DatasetMeta(",
    ):  # fmt: skip
        assert command in code, command


def _split(blocks: list[Block]) -> tuple[list[Block], list[Block]]:
    """The blocks before the first that uses $CHANNEL (run once) and the rest (per channel)."""
    first = next(i for i, b in enumerate(blocks) if "CHANNEL" in b.code)
    return blocks[:first], blocks[first:]


@pytest.fixture(scope="module")
def agreed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tour up to the signed contract, run once: the part no channel changes."""
    before, _ = _split(tour_blocks(README.read_text(encoding="utf-8")))
    root = tmp_path_factory.mktemp("tour-agreed")
    (root / "tour").mkdir()
    result = run_tour(before, root / "tour", _env(root / "home", "unused"))
    if result.failure is not None:
        pytest.fail(result.failure, pytrace=False)
    # QC found the tour's data clean: trim --suggested answered (exit 0) and wrote nothing
    assert not (root / "tour" / "datasets/week01-trimmed").exists()
    for page in ("qc.html", "catalog.html"):
        assert stat.S_IMODE((root / "tour" / page).stat().st_mode) == 0o644, page
    return root


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_the_readme_tour_runs_as_written(
    kind: str, agreed: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    _, after = _split(tour_blocks(README.read_text(encoding="utf-8")))
    extra: dict[str, str] = {}
    if kind == "s3":
        channel = request.getfixturevalue("s3_url")
        extra = dict(request.getfixturevalue("s3_endpoint"))
    else:
        channel = "./channel"  # a folder in the tour's own directory
    shutil.copytree(agreed, tmp_path / "copy")  # the keys, ledgers, data and contract
    work = tmp_path / "copy" / "tour"
    result = run_tour(after, work, _env(tmp_path / "copy" / "home", channel, extra))
    if result.failure is not None:
        pytest.fail(result.failure, pytrace=False)
    # what the tour promises, checked on what it left behind (not on wording, which may
    # change): every episode the centre packaged was delivered, accepted and installed
    from embodex import open_dataset

    sent = open_dataset(work / "datasets/week01")
    got = open_dataset(work / "deliveries/acme/dataset")
    assert got.episode_ids == sent.episode_ids and len(got) == 4
    assert stat.S_IMODE((work / "supply-status.html").stat().st_mode) == 0o644
    assert (work / "datasets/mine/embodex.json").is_file()
    assert (work / "channel").is_dir() == (kind == "folder")


def test_a_broken_shell_command_fails_the_tour_naming_it(tmp_path: Path) -> None:
    readme = (
        "# x\n\ntext\n\n<!-- tour -->\n```bash\necho one\n"
        "embodex inspect no-such-dataset   # broken on purpose\necho never\n```\n"
    )
    blocks = tour_blocks(readme)
    assert [(b.language, b.line) for b in blocks] == [("bash", 7)]
    _, result = _run(tmp_path, blocks, "channel")
    assert result.returncode != 0 and result.failure is not None
    assert "block 1 (bash, README.md line 8)" in result.failure, result.failure
    assert "`embodex inspect no-such-dataset" in result.failure
    assert "exited 1" in result.failure and "not an embodex dataset" in result.failure
    assert "never" not in result.output


def test_a_broken_python_block_fails_the_tour_naming_its_line(tmp_path: Path) -> None:
    readme = (
        "<!-- tour -->\n```bash\nmkdir -p data\n```\n\n"
        "<!-- tour -->\n```python\nimport embodex\n\nembodex.open_dataset('data')\n```\n"
    )
    blocks = tour_blocks(readme)
    assert [(b.number, b.language, b.line) for b in blocks] == [(1, "bash", 3), (2, "python", 8)]
    _, result = _run(tmp_path, blocks, "channel")
    assert result.failure is not None and "block 2 (python, README.md line 8)" in result.failure
    assert 'File "README.md", line 10' in result.output  # the traceback points at the README
    assert "DatasetNotFoundError" in result.output


def test_unmarked_blocks_do_not_run_and_a_stray_marker_is_an_error() -> None:
    assert tour_blocks("```bash\nrm -rf /nowhere\n```\n") == []
    with pytest.raises(ValueError, match="must come right before"):
        tour_blocks("<!-- tour -->\n\n```bash\necho\n```\n")


def test_keys_list_sample_output_is_what_the_command_prints(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    m = re.search(r"`embodex keys list` prints:\n\n```text\n(.*?)```", text, re.DOTALL)
    assert m is not None
    code = (
        "embodex keys generate hubei-centre --role centre\n"
        "embodex keys generate agibot --role buyer\nembodex keys list\n"
    )
    blocks = [Block(1, "bash", code, 1)]
    _, result = _run(tmp_path, blocks, "channel")
    assert result.failure is None, result.failure
    ids = re.compile(r"ed25519:[0-9a-f]{32}")
    printed = [ids.sub("ed25519:ID", line).rstrip() for line in result.output.splitlines()]
    sample = [ids.sub("ed25519:ID", line).rstrip() for line in m.group(1).splitlines()]
    got = printed[-len(sample) :]
    if got != sample:  # say it the way a reader fixes it: the README's sample, then the output
        line = text[: m.start(1)].count("\n") + 1
        pytest.fail(
            f"README.md line {line}: the `embodex keys list` sample is not what the command "
            "prints (key ids aside). README:\n"
            + "\n".join(sample)
            + "\nprinted:\n"
            + "\n".join(got),
            pytrace=False,
        )
