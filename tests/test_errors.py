"""The exception tree by layer: every class in one layer module with a hint, errors that
carry their facts, SDK messages without CLI commands or flags, and the CLI's one table that
turns each error into a fix in the command line's words."""

from __future__ import annotations

import ast
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import embodex.errors as errors_pkg
from embodex.errors import (
    LAYERS,
    ContractError,
    DatasetNotFoundError,
    DeliveryError,
    EmbodexError,
    KeyNotFoundError,
    ObjectNotFoundError,
    QCManifestError,
    SchemaError,
)
from embodex_cli.errors import CLI_HINTS, CODE, cli_hint, error_line, translate
from embodex_cli.main import cli

from .test_cli_format import run

SRC = Path(__file__).resolve().parents[1] / "src" / "embodex"
LAYER_ORDER = (
    "base",
    "storage",
    "format",
    "qc",
    "trust",
    "contract",
    "delivery",
    "market",
    "train",
    "console",
)

#: The embodex commands (``embodex qc``, ``embodex publish``...), as a Python user must not read.
COMMAND = re.compile(rf"\bembodex (?:{'|'.join(sorted(cli.commands))})\b")
#: A command-line flag (``--skip-bad``), not a dash in prose or an ISO range.
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
#: Code spans that stay as they are on both sides: other tools' own command lines, shown
#: with their Python equivalent where there is one (the Hub's ``hf``, ``mcap``, ``ros2``).
FOREIGN = re.compile(r"^(hf |mcap |ros2 |ray |chmod |pip |huggingface_hub\.)")


def _all_error_classes() -> set[type[EmbodexError]]:
    """Every error class embodex defines (not the subclasses a test makes for itself)."""
    seen: set[type[EmbodexError]] = set()
    todo: list[type[EmbodexError]] = [EmbodexError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo += cls.__subclasses__()
    return {cls for cls in seen if cls.__module__.startswith("embodex.")}


def _strings(node: ast.AST) -> Iterator[str]:
    """The text of every string in ``node``; an f-string whole, its fields as ``{…}``."""
    if isinstance(node, ast.JoinedStr):
        yield "".join(str(v.value) if isinstance(v, ast.Constant) else "{…}" for v in node.values)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    else:
        for child in ast.iter_child_nodes(node):
            yield from _strings(child)


def sdk_messages() -> Iterator[tuple[str, str]]:
    """Every message and hint text of the SDK: the string arguments of each ``...Error(...)``
    call, each ``hint=`` argument, each name holding a hint (``default_hint``, ``SKIP_HINT``)
    and each ``published_head(...)`` hint — with where it is written."""
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            parts: list[ast.AST] = []
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
                if name.endswith("Error") or name == "published_head":
                    parts += [*node.args, *(k.value for k in node.keywords)]
                else:
                    parts += [k.value for k in node.keywords if k.arg == "hint"]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                named = any(isinstance(t, ast.Name) and "hint" in t.id.lower() for t in targets)
                if named and node.value is not None:
                    parts.append(node.value)
            for part in parts:
                for text in _strings(part):
                    yield f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}", text


def _python_spans(text: str) -> list[str]:
    """The code spans of ``text`` that are Python (a call, an argument, an attribute)."""
    spans = re.findall(r"`([^`\n]+)`", text)
    return [
        s
        for s in spans
        if not FOREIGN.match(s) and ": " not in s and re.search(r"\w\(|\w=|^\w+\.\w|^[A-Z_]+$", s)
    ]


# -- the tree by layer ------------------------------------------------------------------------


def test_every_error_class_sits_in_exactly_one_layer_module() -> None:
    assert tuple(LAYERS) == LAYER_ORDER
    listed = [cls for group in LAYERS.values() for cls in group]
    assert len(listed) == len(set(listed)), "a class is listed in two layers"
    assert set(listed) == _all_error_classes(), "an error class outside the layer modules"
    for layer, group in LAYERS.items():
        for cls in group:
            assert cls.__module__ == f"embodex.errors.{layer}", (cls, layer)
            # the old import path keeps working for every class
            assert getattr(errors_pkg, cls.__name__) is cls
            assert cls.__name__ in errors_pkg.__all__


def test_every_error_class_has_a_python_hint() -> None:
    for cls in _all_error_classes():
        hint = cls.default_hint
        assert hint.strip(), cls
        assert not COMMAND.search(hint) and not FLAG.search(hint), (cls, hint)


def test_no_sdk_message_names_a_cli_command_or_flag() -> None:
    found = []
    for where, text in sdk_messages():
        bare = re.sub(
            r"`([^`\n]+)`", lambda m: "" if FOREIGN.match(m.group(1)) else m.group(0), text
        )
        if COMMAND.search(bare) or FLAG.search(bare):
            found.append(f"{where}: {text}")
    assert not found, "\n".join(found)


def test_the_guard_catches_a_flag_and_a_command() -> None:
    # the guard itself: what it must flag, and the prose it must let through
    assert FLAG.search("pass --skip-bad to go on") and COMMAND.search("run `embodex qc run`")
    assert not FLAG.search("frames 10–20, a long—dash") and not COMMAND.search("embodex never")
    assert any("skip_bad=True" in text for _, text in sdk_messages())


# -- the CLI's table ----------------------------------------------------------------------


def test_cli_table_covers_every_error_class_in_cli_words() -> None:
    facts = SimpleNamespace(extra="torch", path="/keys/k.pem")
    for cls in _all_error_classes():
        assert cls in CLI_HINTS, f"{cls.__name__} has no CLI hint"
        entry = CLI_HINTS[cls]
        text = entry if isinstance(entry, str) else entry(facts)
        assert text.strip() and not _python_spans(text), (cls, text)


def test_every_python_code_span_has_cli_words() -> None:
    spans = {s for _, text in sdk_messages() for s in _python_spans(text)}
    # the importers name their arguments at run time (`topic_map=`...)
    spans |= {"topic_map=", "sidecar=", "skip_bad="}
    missing = sorted(s for s in spans if s not in CODE)
    assert not missing, f"code spans the CLI cannot say in its words: {missing}"
    for words in CODE.values():
        assert not _python_spans(words), words


def test_cli_line_gives_the_cli_fix_and_python_keeps_the_python_one() -> None:
    stale = QCManifestError("qc is stale", hint="Run `run_qc(dataset)` first, then review.")
    assert stale.one_line() == "qc is stale — Run `run_qc(dataset)` first, then review."
    assert error_line(stale) == "qc is stale — Run `embodex qc run DATASET` first, then review."
    # an error with its class's own advice gets the table's entry
    missing = KeyNotFoundError("no key named 'x'", key_name="x")
    assert "list_keys()" in missing.hint and "`embodex keys list`" in cli_hint(missing)
    # a subclass without an entry of its own would fall back along its bases
    assert translate("`skip_bad=True` and `unknown()`") == "--skip-bad and `unknown()`"


# -- facts as attributes, at real raise sites -------------------------------------------


def test_dataset_errors_carry_path_and_episode(tmp_path: Path) -> None:
    from embodex import open_dataset

    from ._delivery import centre_dataset

    with pytest.raises(DatasetNotFoundError) as info:
        open_dataset(tmp_path / "nothing")
    assert info.value.path == str(tmp_path / "nothing") and info.value.missing == "embodex.json"
    assert (
        info.value.message == f"{tmp_path / 'nothing'} is not an embodex dataset (no embodex.json)"
    )
    ds = centre_dataset(tmp_path / "ds", 1)
    with pytest.raises(SchemaError) as info2:
        ds.episode("no-such-episode")
    assert info2.value.episode_id == "no-such-episode" and info2.value.path == str(ds.root)


def test_storage_errors_carry_the_url(tmp_path: Path) -> None:
    from embodex.storage import open_storage

    store = open_storage(str(tmp_path))
    with pytest.raises(ObjectNotFoundError) as info:
        store.get_bytes("a/b.json")
    assert info.value.url is not None and info.value.url.endswith("a/b.json")
    assert info.value.message == f"{info.value.url} does not exist"


def test_key_errors_carry_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from embodex.contract import sign_contract
    from embodex.trust import generate_key, load_signer

    from ._trust import make_parties, write_draft

    with pytest.raises(KeyNotFoundError) as info:
        load_signer("nobody")
    assert info.value.key_name == "nobody"
    centre, buyer = make_parties()
    draft = write_draft(tmp_path, centre.identity, buyer.identity)
    generate_key("stranger", "centre")
    stranger = load_signer("stranger")
    with pytest.raises(ContractError) as info2:
        sign_contract(draft, stranger)
    assert info2.value.key_id == stranger.key_id and info2.value.key_name == "stranger"
    assert "--key" not in info2.value.hint and "`signer=`" in info2.value.hint
    # the same refusal on the command line: the flag, one line, exit 1
    code, _, err = run(["contract", "sign", str(draft), "--key", "stranger"], capsys)
    assert code == 1 and err.count("\n") == 1
    assert "Sign with the centre's or the buyer's key (--key NAME)." in err and "signer=" not in err
    # an error with its class's own advice: the table's entry, in CLI words
    code, _, err = run(["keys", "export", "nobody"], capsys)
    assert code == 1 and "`embodex keys list`" in err and "list_keys()" not in err


def test_contract_errors_carry_the_field() -> None:
    import yaml

    from embodex.contract import contract_from_yaml
    from embodex.trust import Signer

    from ._trust import draft_text

    centre = Signer.ephemeral("hubei-centre", "centre").identity
    buyer = Signer.ephemeral("agibot", "buyer").identity

    data = yaml.safe_load(draft_text(centre, buyer))
    data["scope"]["fps"] = 29.97
    with pytest.raises(ContractError) as info:
        contract_from_yaml(yaml.safe_dump(data, sort_keys=False), "c.yaml")
    assert info.value.field == "scope.fps" and "whole number" in info.value.message


def test_delivery_errors_carry_batch_and_url(tmp_path: Path) -> None:
    from embodex.delivery import publish, revoke_batch

    from ._delivery import PROFILE, at, centre_dataset, contract

    terms, centre, _ = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 1)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    with pytest.raises(DeliveryError) as info:
        revoke_batch(url, terms, centre, 9, "x", now=at(6))
    assert info.value.batch == 9 and info.value.url is not None
    assert "describe_channel(url, contract)" in info.value.hint
    assert "`embodex channel show URL --contract FILE`" in error_line(info.value)


def test_errors_survive_pickling_with_their_facts() -> None:
    # an error built from facts crosses a process pool whole (pickle's default would call
    # the class with the message alone)
    exc = DatasetNotFoundError("/data/x", missing="embodex.json")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is DatasetNotFoundError and back.path == "/data/x"
    assert back.message == exc.message and back.missing == "embodex.json" and back.hint == exc.hint
    assert back.facts == {"path": "/data/x"}


def test_the_cli_prints_errors_through_its_table_only() -> None:
    # `exc.one_line()` is the Python caller's wording; a CLI line built from it would tell
    # the user to pass `skip_bad=True` instead of --skip-bad
    cli_dir = SRC.parents[1] / "cli" / "embodex_cli"
    users = [p.name for p in cli_dir.glob("*.py") if ".one_line(" in p.read_text(encoding="utf-8")]
    assert not users, f"CLI modules printing the SDK's wording: {users}"
