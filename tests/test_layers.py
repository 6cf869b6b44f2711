"""The layering of ARCHITECTURE.md, checked on every import of every module (those inside
functions included): a lower layer never imports a higher one, production code never imports
the demo generators, and the SDK never imports the CLI."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Modules every layer may use: errors, settings, atomic files, canonical JSON, the one parsing
#: boundary, the version, the one formatter of durations and counts (``units``); ``remotes``
#: holds named channels, settings like ``config`` (kept in the base so shell completion of
#: remote names loads no layer).
BASE = {
    "errors", "config", "fsutil", "canonical", "parsing", "_version", "_lazy", "units", "remotes",
}  # fmt: skip

#: The stack, bottom up: a module may import its own layer and any layer below it.
ORDER = ("base", "storage", "format", "qc", "trust", "contract", "delivery", "market")
RANK = {name: i for i, name in enumerate(ORDER)}

#: Applications over the SDK: they may import any layer (never the demo generators, and the
#: console never the CLI); only the CLI imports the console.
APPS = ("cli", "demo", "console")

#: Layers outside the stack and what each may import.
TRAIN_MAY = {"base", "storage", "format", "train"}
#: The package root re-exports the dataset API and the loader; schemas generates the JSON
#: Schemas of every document (a build tool run as ``python -m embodex.schemas``).
ROOT_MAY = {"base", "format", "train"}


def layer_of(module: str) -> str:
    """The layer of a dotted module name (``embodex.qc.rules.base`` → ``qc``)."""
    parts = module.split(".")
    if parts[0] == "embodex_cli":
        return "cli"
    if len(parts) == 1:
        return "root"
    head = parts[1]
    if head in BASE:
        return "base"
    return head


def _module_name(path: Path, src: Path) -> tuple[str, str]:
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        package = ".".join(parts)
    else:
        package = ".".join(parts[:-1])
    return ".".join(parts), package


def imports_of(path: Path, src: Path) -> list[tuple[int, str]]:
    """Every embodex module ``path`` imports, at module level or inside a function."""
    module, package = _module_name(path, src)
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from pkg import sub" imports the submodule when there is one
            for a in node.names:
                sub = f"{target}.{a.name}"
                is_module = (src / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    src / Path(*sub.split(".")) / "__init__.py"
                ).exists()
                found.append((node.lineno, sub if is_module else target))
    del module
    return [(n, m) for n, m in found if m.split(".")[0] in ("embodex", "embodex_cli")]


def _report_ranks(src: Path) -> dict[str, int]:
    """Each page module sits just above the highest layer it renders."""
    ranks: dict[str, int] = {}
    reports = sorted((src / "embodex" / "reports").glob("*.py"))

    def rank(path: Path, seen: frozenset[str]) -> int:
        name = _module_name(path, src)[0]
        if name in ranks:
            return ranks[name]
        best = 0
        for _, target in imports_of(path, src):
            layer = layer_of(target)
            if layer == "reports" and target not in seen:
                tpath = src / Path(*target.split("."))
                tpath = tpath / "__init__.py" if tpath.is_dir() else tpath.with_suffix(".py")
                best = max(best, rank(tpath, seen | {name}))
            elif layer in RANK:
                best = max(best, RANK[layer])
        ranks[name] = best
        return best

    for path in reports:
        rank(path, frozenset())
    return ranks


def violations(src: Path) -> list[str]:
    """Every forbidden import edge under ``src`` (a folder holding embodex and embodex_cli)."""
    report_rank = _report_ranks(src) if (src / "embodex" / "reports").is_dir() else {}
    problems: list[str] = []
    for path in sorted(src.rglob("*.py")):
        module, _ = _module_name(path, src)
        if module.split(".")[0] not in ("embodex", "embodex_cli"):
            continue
        if module == "embodex.__main__":
            # `python -m embodex` is a launcher, not a library module: it runs the CLI (and
            # imports it only when run), so it is the one SDK file allowed to import it.
            continue
        mine = layer_of(module)
        for line, target in imports_of(path, src):
            theirs = layer_of(target)
            where = f"{path.relative_to(src)}:{line} imports {target}"
            if theirs == "cli" and mine != "cli":
                problems.append(f"{where}: the SDK never imports the CLI")
            elif theirs == "demo" and mine not in ("demo", "cli"):
                problems.append(f"{where}: production code never imports the demo generators")
            elif theirs == "console" and mine not in ("console", "cli"):
                problems.append(f"{where}: only the CLI imports the console application")
            elif mine in APPS or module == "embodex.schemas":
                continue
            elif mine == "reports":
                continue  # a page may render the results of any layer
            elif theirs == "reports":
                page = report_rank.get(target, max(RANK.values()) + 1)
                if mine not in RANK or page > RANK[mine]:
                    problems.append(f"{where}: that page renders a layer above {mine}")
            elif mine == "root":
                if theirs not in ROOT_MAY:
                    problems.append(f"{where}: `import embodex` must stay light")
            elif mine == "train":
                if theirs not in TRAIN_MAY:
                    problems.append(f"{where}: train stands on format and storage only")
            elif theirs == "train" or theirs == "root":
                problems.append(f"{where}: only the CLI and the package root import {theirs}")
            elif mine in RANK and theirs in RANK:
                if RANK[theirs] > RANK[mine]:
                    problems.append(f"{where}: {mine} is below {theirs}")
            else:
                problems.append(f"{where}: unknown layer {mine if mine not in RANK else theirs}")
    return problems


def _sources(tmp: Path) -> Path:
    """A copy of the project's sources in one folder (embodex and embodex_cli side by side)."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "src" / "embodex", tmp / "embodex", ignore=ignore)
    shutil.copytree(ROOT / "cli" / "embodex_cli", tmp / "embodex_cli", ignore=ignore)
    return tmp


def test_no_import_breaks_the_layers(tmp_path: Path) -> None:
    assert violations(_sources(tmp_path)) == []


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("storage/bad.py", "from ..delivery import pull", "storage is below delivery"),
        ("format/bad.py", "def f():\n    from embodex.qc import run_qc", "format is below qc"),
        ("trust/bad.py", "from ..contract.model import Contract", "trust is below contract"),
        ("qc/bad.py", "from ..demo.synth import SCENES", "never imports the demo"),
        ("market/bad.py", "import embodex_cli.main", "never imports the CLI"),
        ("train/bad.py", "from ..delivery.pull import pull", "train stands on format"),
        ("qc/bad.py", "from ..reports.catalog_page import catalog_html", "renders a layer above"),
        ("market/bad.py", "from ..console import start", "only the CLI imports the console"),
        ("reports/bad.py", "from ..console.data import ConsoleData", "only the CLI imports"),
        ("console/bad.py", "from ..demo.synth import synth_dataset", "never imports the demo"),
        ("console/bad.py", "import embodex_cli.render", "never imports the CLI"),
    ],
)
def test_a_forbidden_import_is_caught(
    tmp_path: Path, module: str, line: str, expected: str
) -> None:
    """The checker itself: a copy of the sources with one forbidden edge added fails."""
    src = _sources(tmp_path)
    (src / "embodex" / module).write_text(line + "\n", encoding="utf-8")
    found = violations(src)
    assert len(found) == 1, found
    assert expected in found[0]
    assert module in found[0]


def test_a_sample_pack_may_embed_the_qc_page(tmp_path: Path) -> None:
    """market.sample writes the QC page (a layer below market) into every sample pack."""
    src = _sources(tmp_path)
    edges = [t for _, t in imports_of(src / "embodex" / "market" / "sample.py", src)]
    assert "embodex.reports.qc_page" in edges


def test_import_embodex_loads_neither_delivery_nor_the_cli() -> None:
    code = (
        "import sys, embodex\n"
        "heavy = [m for m in sys.modules if m.startswith(('embodex.delivery', 'embodex.qc',"
        " 'embodex.trust', 'embodex.contract', 'embodex.market', 'embodex.demo', 'embodex_cli',"
        " 'boto3'))]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
