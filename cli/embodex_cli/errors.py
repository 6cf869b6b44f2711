"""What the CLI prints for an SDK error: the one table from exception type to the fix in the
command line's words (after huggingface_hub's ``CLI_ERROR_MAPPINGS``).

The SDK's errors give Python advice: their ``hint`` names functions and arguments in code
spans (`` `run_qc(dataset)` ``, `` `skip_bad=True` ``) and never a command or a flag. Here:

* an error that carries its class's own advice gets :data:`CLI_HINTS`' entry for its class
  (the most specific one along its bases), which may read the error's facts (``path``,
  ``extra``...);
* an error raised with advice for its case keeps that advice, with each code span that
  :data:`CODE` knows replaced by the command or flag that does the same
  (`` `run_qc(dataset)` `` → `` `embodex qc run DATASET` ``); the message is translated the
  same way.

``tests/test_errors.py`` checks that every error class has an entry and that every code span
the SDK writes in a message has its CLI words here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from embodex.errors import (
    LAYERS,
    CatalogError,
    ChannelError,
    ClusterError,
    ConfigError,
    ConsentError,
    ConsoleError,
    ContractError,
    ContractStateError,
    CorruptDatasetError,
    DatasetExistsError,
    DatasetLockedError,
    DatasetNotFoundError,
    DeliveryError,
    DemandError,
    EmbodexError,
    EpisodeIndexError,
    FormatError,
    FrozenChannelError,
    ImportSourceError,
    InteropError,
    KeyExistsError,
    KeyNotFoundError,
    KeyPermissionError,
    LedgerError,
    LoaderConfigError,
    MarketError,
    MissingExtraError,
    ObjectNotFoundError,
    PassphraseError,
    PayloadError,
    PriceSheetError,
    PrivacyError,
    ProfileError,
    ProvenanceError,
    PullLockedError,
    QCError,
    QCFailedError,
    QCManifestError,
    QCManifestMissingError,
    QuoteError,
    RegionError,
    RemoteError,
    ReviewError,
    RollbackError,
    SamplePackError,
    SchemaError,
    ScopeError,
    SignatureError,
    StorageAccessError,
    StorageError,
    StorageIntegrityError,
    TrimError,
    TrustError,
    UnsafeKeyError,
    UnsafePathError,
    UnsupportedFormatError,
    VerificationError,
)

__all__ = ["CLI_HINTS", "CODE", "cli_hint", "error_line", "translate"]

#: A CLI hint: fixed text, or built from the error's facts.
CliHint = str | Callable[[Any], str]

#: Exception type → the fix the CLI prints when the error carries its class's own advice.
CLI_HINTS: dict[type[EmbodexError], CliHint] = {
    # base
    EmbodexError: "Run the command again with EMBODEX_DEBUG=1 for details.",
    ConfigError: "Check the option or file named above.",
    RemoteError: (
        "Add it with `embodex remote add NAME URL`, or give the channel's URL "
        "(a folder channel as ./NAME)."
    ),
    UnsafePathError: (
        "Do not use this data: whoever wrote it tried to reach outside its folder "
        "(see specs/channel.md §11)."
    ),
    # storage
    StorageError: (
        "Check the URL, the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_ENDPOINT_URL for non-AWS stores) and the network; run the command again to resume."
    ),
    ObjectNotFoundError: "Check the URL and key; list the prefix to see what is there.",
    UnsafeKeyError: "Use relative keys with '/' separators and no '.' or '..' segments.",
    StorageIntegrityError: (
        "The stored copy is damaged or was replaced: ask the sender to upload it again; "
        "nothing was kept from the bad download."
    ),
    StorageAccessError: "Check the token or credentials and the access rights to the store.",
    # format
    FormatError: "Check the dataset with `embodex verify DATASET`; see specs/format.md.",
    SchemaError: "Fix the metadata or data so it matches specs/format.md.",
    UnsupportedFormatError: "Upgrade embodex (pip install -U embodex).",
    DatasetNotFoundError: "Check the path; a dataset directory holds embodex.json.",
    DatasetExistsError: (
        "Choose a new output directory, or add to this dataset: --append on the command "
        "line, append=True from Python."
    ),
    DatasetLockedError: "Wait for the other writer to finish, then run the command again.",
    CorruptDatasetError: (
        "Restore the file from the original delivery (or pull the batch again); "
        "run `embodex verify DATASET` to list every damaged file."
    ),
    VerificationError: (
        "Restore the damaged files from the original delivery (or pull the batch again); "
        "the problems are listed above."
    ),
    EpisodeIndexError: (
        "Positions run from 0 (-1 is the last); list the episodes with "
        "`embodex inspect DATASET --episodes`."
    ),
    TrimError: (
        "Give each episode one kept range START:END inside its frames; see "
        "`embodex trim --help` and specs/format.md §10."
    ),
    ImportSourceError: "Fix or remove that recording, or pass --skip-bad to package the rest.",
    InteropError: "See specs/interop.md for what each conversion supports.",
    MissingExtraError: lambda e: f"pip install 'embodex[{e.extra}]'",
    ConsentError: (
        "Record the operator's consent (`embodex consent record PSEUDONYM --scope training "
        "--key CENTRE`), link it (`embodex consent link DATASET`), or leave out their "
        "episodes; `embodex consent list` shows the register (specs/privacy.md §4d)."
    ),
    PrivacyError: (
        "pip install 'embodex[privacy]' for the face detector; see `embodex anonymise --help` "
        "(--threshold in (0, 1), --faces blur|pixelate|box) and specs/privacy.md."
    ),
    ClusterError: (
        "pip install 'embodex[ray]'; give --ray auto (a local Ray) or the address of a "
        "running cluster (host:6379 or ray://host:10001); see specs/scale.md."
    ),
    # qc
    QCError: "Run `embodex qc run DATASET` again; see specs/qc.md.",
    ProfileError: (
        "Fix the profile: see specs/qc.md for every rule and parameter, or print the default "
        "with `embodex qc profile`."
    ),
    QCManifestError: "Run `embodex qc run DATASET` to (re)create qc/manifest.json.",
    QCFailedError: (
        "Failed episodes are kept and labelled; see `embodex qc show DATASET EPISODE` or "
        "`embodex qc report DATASET`."
    ),
    ReviewError: "See `embodex review set --help` for the verdicts and reason codes.",
    # trust
    TrustError: "Check the keys with `embodex keys list`; see specs/signing.md.",
    KeyNotFoundError: ("Run `embodex keys list` to see the keys, or `embodex keys generate NAME`."),
    KeyExistsError: "Choose another name (`embodex keys list` shows those taken); embodex "
    "never overwrites a key.",
    KeyPermissionError: lambda e: f"Run `chmod 600 {e.path}` and try again.",
    PassphraseError: (
        "Set EMBODEX_KEY_PASSPHRASE to the key's passphrase (or type it at the prompt)."
    ),
    SignatureError: (
        "Do not use this document; ask its sender for a fresh copy and check you trust the "
        "right public keys (`embodex keys list`)."
    ),
    PayloadError: (
        'Write money and other fractional numbers as decimal strings ("12.50") and times as '
        "ISO 8601 strings; see specs/signing.md."
    ),
    LedgerError: "Run `embodex ledger verify` to see which entry is wrong.",
    # contract
    ContractError: "Fix the contract file; specs/contract.md lists every field and rule.",
    ContractStateError: "Run `embodex contract show FILE` to see its state and who signed it.",
    # delivery
    DeliveryError: "See specs/channel.md; run the command again to resume where it stopped.",
    ChannelError: (
        "Do not use this channel's data; ask the centre to check the channel "
        "(`embodex channel show URL --contract FILE`)."
    ),
    RollbackError: (
        "Someone replayed an old head or restored an old copy of the channel: nothing was "
        "installed; tell the centre and pull again once the channel is current."
    ),
    FrozenChannelError: (
        "Ask the centre to run `embodex channel refresh URL --contract FILE --key NAME` "
        "(it re-signs the head); pull again afterwards."
    ),
    PullLockedError: "Wait for the other pull to finish, or pass --wait to queue behind it.",
    RegionError: (
        "Pull into a store in one of the contract's allowed regions (--region CODE), or ask "
        "the centre for an amendment allowing your region (with its transfer approval)."
    ),
    ScopeError: (
        "Leave them out (--exclude-out-of-scope), fix their metadata, or amend the contract's "
        "scope."
    ),
    # market
    MarketError: "See specs/catalog.md.",
    CatalogError: (
        "Ask the centre for a fresh catalogue (`embodex catalog build`); see specs/catalog.md."
    ),
    PriceSheetError: (
        'Fix the file: money and multipliers are quoted decimal strings ("1.15"); '
        "see specs/catalog.md for every field."
    ),
    DemandError: "Fix the demand file; specs/catalog.md lists every field (examples/market/).",
    QuoteError: "Compute the quote again with `embodex quote CATALOG DEMAND -o quote.json`.",
    ProvenanceError: (
        "Do not rely on this data's provenance; ask the centre for the original catalogue "
        "or sample pack (`embodex catalog provenance PATH` checks one)."
    ),
    SamplePackError: (
        "Do not rely on this sample pack: pull it again, or ask the centre to rebuild it "
        "(`embodex catalog sample`); see specs/catalog.md §7."
    ),
    # train
    LoaderConfigError: "Check the option named above against `embodex inspect DATASET`.",
    QCManifestMissingError: (
        "Run `embodex qc run DATASET` first, or load every episode: --qc all "
        "(qc='all' from Python)."
    ),
    # console
    ConsoleError: (
        "See `embodex console --help`; the console needs `pip install embodex[console]`."
    ),
}

#: A code span of an SDK message (as written between backticks) → the CLI's words for it.
CODE: dict[str, str] = {
    # commands that do what an SDK call does
    "run_qc(dataset)": "`embodex qc run DATASET`",
    "run_qc(dataset, profile)": "`embodex qc run DATASET --profile FILE`",
    "default_profile()": "`embodex qc profile`",
    "default_profile().digest": "`embodex qc profile`",
    "describe_episode(dataset, episode_id)": "`embodex qc show DATASET EPISODE`",
    "load_qc_manifest(dataset)": "`embodex qc report DATASET`",
    "review_queue(dataset)": "`embodex review next DATASET`",
    "list_reviews(dataset)": "`embodex review list DATASET`",
    "record_review": "`embodex review set`",
    "REASONS": "`embodex review set --help`",
    "dataset.episode_ids": "`embodex inspect DATASET --episodes`",
    "open_dataset(root)": "`embodex inspect DATASET`",
    "verify_dataset(root)": "`embodex verify DATASET`",
    "list_keys()": "`embodex keys list`",
    "generate_key(name, role)": "`embodex keys generate NAME`",
    "export_identity(name)": "`embodex keys export NAME`",
    "import_identity(path)": "`embodex keys import PATH`",
    "load_identity(name).key_id": "`embodex keys show NAME`",
    "verify_ledger(path, identities)": "`embodex ledger verify`",
    "sign_contract(path, signer)": "`embodex contract sign FILE --key NAME`",
    "amend_contract(path, changes, signer)": (
        "`embodex contract amend FILE --changes NEW.yaml --key NAME`"
    ),
    "render_template(centre=..., buyer=...)": (
        "`embodex contract init --centre CENTRE_KEY --buyer BUYER_KEY`"
    ),
    "verify_contract_file(path)": "`embodex contract show FILE`",
    "publish(...)": "`embodex publish`",
    "record_consent(operator, signer, scope=[...])": (
        "`embodex consent record PSEUDONYM --scope … --key CENTRE`"
    ),
    "link_consent(dataset)": "`embodex consent link DATASET`",
    "list_consents()": "`embodex consent list`",
    "scope=[...]": "--scope TEXT (repeatable)",
    "region=": "`--region CODE`",
    "pseudonymise=True": "--pseudonymise",
    "pseudonymise_operators(...)": (
        "`embodex package … --pseudonymise --scope CONTRACT_ID` or `embodex pseudonymise`"
    ),
    "describe_channel(url, contract)": "`embodex channel show URL --contract FILE`",
    "refresh_channel(url, contract, signer)": (
        "`embodex channel refresh URL --contract FILE --key NAME`"
    ),
    "supply_plan(url, contract)": "`embodex supply plan`",
    "build_catalog(...)": "`embodex catalog build`",
    "build_sample_pack(...)": "`embodex catalog sample DATASET -o CATALOG/sample`",
    "publish_catalog(catalog, url, signer)": "`embodex catalog publish CATALOG URL`",
    "record_delivery(...)": "`embodex catalog record-delivery`",
    "open_provenance(path)": "`embodex catalog provenance PATH --json`",
    "match_demand(listing, demand)": "`embodex catalog match CATALOG DEMAND`",
    "build_quote(listing, demand)": "`embodex quote CATALOG DEMAND -o quote.json`",
    # arguments and the flags that set them
    "append=True": "--append",
    "skip_bad=True": "--skip-bad",
    "ray=None": "leave out --ray",
    "ray='auto'": "--ray auto",
    "skip_bad=": "--skip-bad",
    "topic_map=": "--map FILE",
    "ray=": "--ray",
    "sidecar=": "--meta FILE",
    "video=False": "leave out --video",
    "frames=": "--episode ID --frames START:END",
    "suggested=True": "--suggested",
    "timing.gap.fail=250": "--set timing.gap.fail=250",
    "note=": "--note TEXT",
    "reason=": "--reason TEXT",
    "profile=": "--profile FILE",
    "signer=": "--key NAME",
    "now=": "--at",
    "out=": "--out FILE",
    "ttl=timedelta(days=3)": "--ttl 3d",
    "wait=True": "--wait",
    "exclude_out_of_scope=True": "--exclude-out-of-scope",
    "passphrase=": "type it at the prompt",
    "trusted=": "--trust IDENTITY",
    "catalog=": "--catalog DIR_OR_URL",
    "centre=": "--centre",
    "contract=": "--contract FILE",
    "capacity=": "--capacity FILE",
    "qc='all'": "--qc all",
    "token=": "--token TOKEN",
    "qc='pass'": "--qc pass",
    "qc=": "--qc",
    "episodes=": "--where",
    "history=": "--history",
    "horizon=": "--horizon",
    "delta_timestamps=": "the windows",
    "video=": "--cameras/--reencode",
    "channel=": "--channel URL",
    "port=": "--port",
    "build_settings(...)": "`embodex console --help`",
    "set_signed_review(...)": "`embodex review set ... --key NAME`",
    "transcode_dataset(...)": "`embodex transcode`",
    "transcode_dataset(src, dest, cameras='jpeg')": (
        "`embodex transcode DATASET OUT --cameras jpeg`"
    ),
    "generate_key(name, 'reviewer')": "`embodex keys generate NAME --role reviewer`",
    "VideoPolicy": "--cameras, --reencode",
    "VideoPolicy(reencode='auto')": "--reencode auto",
    "VideoPolicy(cameras='jpeg')": "--cameras jpeg",
    "VideoPolicy(cameras='video')": "--cameras video",
    "video=VideoPolicy(cameras='jpeg')": "--cameras jpeg",
    "video=VideoPolicy(cameras='video')": "--cameras video",
    "decode_images=True": "decode_images=True from Python",
    ".torch()": "the PyTorch loader (.torch() from Python)",
    ".iterable()": "the streaming loader (.iterable() from Python)",
    "serve(settings)": "`embodex console`",
    "add_remote(name, url)": "`embodex remote add NAME URL`",
    "remove_remote(name)": "`embodex remote remove NAME`",
    "scope='project'": "--project",
}

_SPAN = re.compile(r"`([^`\n]+)`")


def translate(text: str) -> str:
    """``text`` with every code span :data:`CODE` knows in the CLI's words."""
    return _SPAN.sub(lambda m: CODE.get(m.group(1), m.group(0)), text)


def cli_hint(exc: EmbodexError) -> str:
    """The fix the CLI prints for ``exc`` (see the module docstring)."""
    if exc.hint != type(exc).default_hint:
        return translate(exc.hint)
    for cls in type(exc).__mro__:
        entry = CLI_HINTS.get(cls)
        if entry is not None:
            return entry if isinstance(entry, str) else entry(exc)
    return translate(exc.hint)  # pragma: no cover - every class has an entry (tested)


def error_line(exc: EmbodexError, command: str | None = None) -> str:
    """``message — fix`` on one line, in the CLI's words. ``command`` is the command that
    failed (``embodex verify``): advice to run that very command is left out of the fix
    (`verify` must not tell its user to run `embodex verify`)."""
    hint = _without_advice_to_run(cli_hint(exc), command) if command else cli_hint(exc)
    text = f"{translate(exc.message)} — {hint}" if hint else translate(exc.message)
    return " ".join(text.split())


def _without_advice_to_run(hint: str, command: str) -> str:
    """``hint`` less each clause (split at ``;`` and sentence ends) naming ``command``."""
    clauses = re.split(r"(?<=[.;])\s+", hint.strip())
    kept = [c for c in clauses if f"`{command} " not in c and f"`{command}`" not in c]
    if len(kept) == len(clauses):
        return hint
    text = " ".join(kept).strip()
    if text.endswith(";"):
        text = text[:-1] + "."
    return text[:1].upper() + text[1:]


#: Every error class of the SDK, for the coverage test.
ALL_ERRORS: tuple[type[EmbodexError], ...] = tuple(c for group in LAYERS.values() for c in group)
