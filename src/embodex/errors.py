"""The whole embodex exception tree.

Every error carries the facts (a path, an episode id, a key id...) in its message and a
``hint`` that tells the user how to fix the problem. The CLI prints ``message`` and
``hint`` on one line and exits non-zero; library callers catch the class they care about.
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "ChannelError",
    "ConfigError",
    "ContractError",
    "ContractStateError",
    "CorruptDatasetError",
    "DatasetExistsError",
    "DatasetLockedError",
    "DatasetNotFoundError",
    "DeliveryError",
    "DemandError",
    "EmbodexError",
    "EpisodeIndexError",
    "FormatError",
    "FrozenChannelError",
    "ImportSourceError",
    "InteropError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyPermissionError",
    "LedgerError",
    "LoaderConfigError",
    "MarketError",
    "MissingExtraError",
    "ObjectNotFoundError",
    "PassphraseError",
    "PayloadError",
    "PriceSheetError",
    "ProfileError",
    "ProvenanceError",
    "PullLockedError",
    "QCError",
    "QCFailedError",
    "QCManifestError",
    "QCManifestMissingError",
    "QuoteError",
    "ReviewError",
    "RollbackError",
    "SamplePackError",
    "SchemaError",
    "ScopeError",
    "SignatureError",
    "StorageAccessError",
    "StorageError",
    "StorageIntegrityError",
    "TrimError",
    "TrustError",
    "UnsafeKeyError",
    "UnsupportedFormatError",
    "VerificationError",
]


class EmbodexError(Exception):
    """Root of every error embodex raises on purpose."""

    default_hint = "Run the command again with EMBODEX_DEBUG=1 for details."
    #: The CLI's exit status for this error: 1, unless a script needs to tell it apart.
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def one_line(self) -> str:
        """The message and the fix, on one line, as the CLI prints it."""
        text = f"{self.message} — {self.hint}" if self.hint else self.message
        return " ".join(text.split())


class ConfigError(EmbodexError):
    """A setting or an input file the user wrote is wrong."""

    default_hint = "Check the option or file named above."


class FormatError(EmbodexError):
    """Something about the embodex dataset format is wrong."""


class SchemaError(FormatError):
    """Metadata or data does not match the declared schema."""

    default_hint = "Fix the metadata or data so it matches specs/format.md."


class UnsupportedFormatError(FormatError):
    """The dataset uses a format version or feature this embodex cannot read."""

    default_hint = "Upgrade embodex (pip install -U embodex)."


class DatasetNotFoundError(FormatError):
    """The path is not an embodex dataset."""

    default_hint = "Check the path; a dataset directory holds embodex.json."


class DatasetExistsError(FormatError):
    """Creating a dataset where one already exists."""

    default_hint = (
        "Choose a new output directory, or add to this dataset: --append on the command "
        "line, append=True from Python."
    )


class DatasetLockedError(FormatError):
    """Another writer holds the dataset's lock."""

    default_hint = "Wait for the other writer to finish, then run again."


class CorruptDatasetError(FormatError):
    """A file of the dataset is missing, truncated or does not match its hash."""

    default_hint = (
        "Restore the file from the original delivery (or pull the batch again); "
        "run `embodex verify DATASET` to list every damaged file."
    )


class VerificationError(CorruptDatasetError):
    """``Dataset.verify()`` found problems; ``problems`` lists each one."""

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = problems
        first = problems[0] if problems else "unknown problem"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"verification failed: {first}{more}", hint=hint)


class ImportSourceError(EmbodexError):
    """A raw recording being imported is unreadable or inconsistent."""

    default_hint = "Fix or remove that recording, or pass --skip-bad to package the rest."

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        episode: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = []
        if episode is not None:
            where.append(f"episode {episode}")
        if path is not None:
            where.append(str(path))
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message, hint=hint)
        self.path = path
        self.episode = episode


# --- quality control (embodex.qc) ---------------------------------------------------------


class QCError(EmbodexError):
    """Quality control could not run or its results are unusable."""

    default_hint = "Run `embodex qc run DATASET` again; see specs/qc.md."


class ProfileError(QCError, ConfigError):
    """A QC profile file or override is invalid (unknown rule, bad threshold...)."""

    default_hint = (
        "Fix the profile: see specs/qc.md for every rule and parameter, or print the default "
        "with `embodex qc profile`."
    )


class QCManifestError(QCError):
    """The QC manifest of a dataset is missing, unreadable, stale or damaged."""

    default_hint = "Run `embodex qc run DATASET` to (re)create qc/manifest.json."


class QCFailedError(QCError):
    """QC ran and at least one episode FAILs. The CLI exits 3 (not 1, which means the check
    could not run: bad input, damaged data), so scripts can gate on the verdict."""

    exit_code = 3
    default_hint = (
        "Failed episodes are kept and labelled; see `embodex qc show DATASET EPISODE` or "
        "`embodex qc report DATASET`."
    )

    def __init__(self, failed: int, total: int, *, top: str | None = None) -> None:
        self.failed = failed
        self.total = total
        top_text = f" (most common: {top})" if top else ""
        super().__init__(f"{failed} of {total} episodes FAIL quality control{top_text}")


class ReviewError(QCError):
    """A manual review cannot be recorded (unknown episode, bad reason code...)."""

    default_hint = "See `embodex review set --help` for the verdicts and reason codes."


# --- trust: keys, signatures, contracts, ledger (issue 4) ---


class TrustError(EmbodexError):
    """Keys, signatures, contracts or the ledger: something cannot be trusted or used."""


class KeyNotFoundError(TrustError):
    """No key or identity file of that name."""

    default_hint = "Run `embodex keys list` to see the keys, or `embodex keys generate NAME`."


class KeyExistsError(TrustError):
    """Generating a key under a name that is already taken."""

    default_hint = "Choose another name; embodex never overwrites a key."


class KeyPermissionError(TrustError):
    """A private key file is readable by other users."""


class PassphraseError(TrustError):
    """The key is encrypted and the passphrase is missing or wrong."""

    default_hint = "Set EMBODEX_KEY_PASSPHRASE to the key's passphrase (or type it at the prompt)."


class SignatureError(TrustError):
    """A signed document does not verify: tampered, wrong key, wrong type, missing signer."""

    default_hint = (
        "Do not use this document; ask its sender for a fresh copy and check you trust the "
        "right public keys (`embodex keys list`)."
    )


class PayloadError(TrustError):
    """A payload breaks the signing rules (floats, non-canonical JSON, unknown type)."""

    default_hint = (
        'Write money and other fractional numbers as decimal strings ("12.50") and times as '
        "ISO 8601 strings; see specs/signing.md."
    )


class ContractError(TrustError):
    """A contract is invalid (unknown field, inconsistent dates, a float for money...)."""

    default_hint = "Fix the contract file; specs/contract.md lists every field and rule."


class ContractStateError(ContractError):
    """The contract is not in a state that allows this (expired, terminated, not agreed)."""

    default_hint = "Run `embodex contract show FILE` to see its state and who signed it."


class LedgerError(TrustError):
    """A ledger cannot be read or appended to safely (tampered, locked, malformed)."""

    default_hint = "Run `embodex ledger verify` to see which entry is wrong."


# -- interop (LeRobot, Hugging Face, MCAP, Rerun) ------------------------------------------


class InteropError(EmbodexError):
    """A conversion to or from another ecosystem's format cannot be done as asked."""

    default_hint = "See specs/interop.md for what each conversion supports."


class MissingExtraError(InteropError):
    """An optional dependency needed for this conversion is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this needs the Python package {package!r}, which is not installed",
            hint=f"pip install 'embodex[{extra}]'",
        )
        self.package = package
        self.extra = extra


# -- storage backends (embodex.storage.stores) ----------------------------------------


class StorageError(EmbodexError):
    """A storage backend (local folder, S3) failed or refused a request."""

    default_hint = (
        "Check the URL, the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_ENDPOINT_URL for non-AWS stores) and the network; run again to resume."
    )


class ObjectNotFoundError(StorageError):
    """The key does not exist in the store."""

    default_hint = "Check the URL and key; list the prefix to see what is there."


class UnsafeKeyError(StorageError):
    """A storage key that could escape its root (``..``, absolute, empty segments)."""

    default_hint = "Use relative keys with '/' separators and no '.' or '..' segments."


class StorageIntegrityError(StorageError):
    """A downloaded object does not have the size or sha256 it was promised to have."""

    default_hint = (
        "The stored copy is damaged or was replaced: ask the sender to upload it again; "
        "nothing was kept from the bad download."
    )


# -- training loader (embodex.train) -----------------------------------------------------


class LoaderConfigError(ConfigError):
    """An argument of ``embodex.train.load`` does not fit the dataset."""

    default_hint = "Check the argument named above against `embodex inspect DATASET`."


class QCManifestMissingError(LoaderConfigError):
    """A QC filter was asked for but the dataset has no QC manifest."""

    default_hint = (
        "Run `embodex qc run DATASET` first, or load every episode: qc='all' (CLI: --qc all)."
    )


# -- delivery: channels, publish, pull, receipts, supply (issue 5) ----------------------


class DeliveryError(EmbodexError):
    """A delivery over a channel cannot go on (publish, pull, receipts, notices, supply)."""

    default_hint = "See specs/channel.md; run the command again to resume where it stopped."


class ChannelError(DeliveryError):
    """The channel's content cannot be trusted: bad head, broken batch chain, unsafe names."""

    default_hint = (
        "Do not use this channel's data; ask the centre to check the channel "
        "(`embodex channel show URL --contract FILE`)."
    )


class RollbackError(ChannelError):
    """The channel shows an older state than one already seen (an old head replayed)."""

    default_hint = (
        "Someone replayed an old head or restored an old copy of the channel: nothing was "
        "installed; tell the centre and pull again once the channel is current."
    )


class FrozenChannelError(ChannelError):
    """The channel head has expired: the channel may be frozen at an old state."""

    default_hint = (
        "Ask the centre to run `embodex channel refresh URL --contract FILE --key NAME` "
        "(it re-signs the head); pull again afterwards."
    )


class PullLockedError(DeliveryError):
    """Another pull is running into the same directory."""

    default_hint = "Wait for the other pull to finish, or pass --wait to queue behind it."


class ScopeError(DeliveryError):
    """Episodes to publish lie outside the contract's scope."""

    default_hint = (
        "Leave them out (--exclude-out-of-scope), fix their metadata, or amend the contract's "
        "scope."
    )


# --- market: catalogue, sample packs, demand, matching, quotes, provenance (issue 8) ---


class MarketError(EmbodexError):
    """A catalogue, sample pack, demand, quote or provenance chain cannot be used."""

    default_hint = "See specs/catalog.md."


class CatalogError(MarketError):
    """A catalogue is missing, malformed, stale, or does not match what it names."""

    default_hint = (
        "Ask the centre for a fresh catalogue (`embodex catalog build`); see specs/catalog.md."
    )


class PriceSheetError(MarketError, ConfigError):
    """A price sheet or capacity file is invalid (a float for money, an unknown field...)."""

    default_hint = (
        'Fix the file: money and multipliers are quoted decimal strings ("1.15"); '
        "see specs/catalog.md for every field."
    )


class DemandError(MarketError, ConfigError):
    """A demand file is invalid or asks for something the catalogue cannot price."""

    default_hint = "Fix the demand file; specs/catalog.md lists every field (examples/market/)."


class QuoteError(MarketError):
    """A quote file is malformed, or its arithmetic does not add up (edited by hand)."""

    default_hint = "Compute the quote again with `embodex quote CATALOG DEMAND -o quote.json`."


class ProvenanceError(MarketError):
    """A provenance chain is broken: a missing link, a wrong order, another dataset."""

    default_hint = (
        "Do not rely on this data's provenance; ask the centre for the original catalogue "
        "or sample pack."
    )


class SamplePackError(MarketError):
    """A sample pack cannot be built or does not check out (watermark, provenance)."""

    default_hint = (
        "Do not rely on this sample pack: pull it again, or ask the centre to rebuild it "
        "(`embodex catalog sample`); see specs/catalog.md §7."
    )


# -- ecosystem fixes: loader, interop, market (issues 6-8) ------------------------------


class EpisodeIndexError(SchemaError, IndexError):
    """An episode position past the end of a dataset (also an ``IndexError``)."""

    default_hint = (
        "Positions run from 0 (-1 is the last); list the episodes with "
        "`embodex inspect DATASET --episodes`."
    )


# -- Hugging Face Hub channel backend (issue 7, embodex.storage.hf) ----------------


class StorageAccessError(StorageError):
    """The store refused these credentials (401/403), or the object's repository is private
    or gated for this account; retrying the same request cannot help."""

    default_hint = "Check the token or credentials and the access rights to the store."


# -- trimming episodes (embodex.format.trim, `embodex trim`) --------------------------------


class TrimError(FormatError, ConfigError):
    """A trim cannot be done as asked: an unknown episode, an empty or out-of-range frame
    range, two ranges for one episode, nothing to trim."""

    default_hint = (
        "Give each episode one kept range START:END inside its frames; see "
        "`embodex trim --help` and specs/format.md §10."
    )


# -- the review console (embodex.console, `embodex console`, issue 18) ----------------------


class ConsoleError(EmbodexError):
    """The review console cannot start or serve: the port is taken, the web extra is not
    installed, the reviewer key cannot sign."""

    default_hint = "See `embodex console --help`; the console needs `pip install embodex[console]`."


# -- running on a Ray cluster (embodex.format.cluster, `--ray`, issue 14) -------------------


class ClusterError(EmbodexError):
    """The Ray cluster cannot be used: Ray is not installed, the address does not answer, or
    a worker died on one task more often than Ray retries it."""

    default_hint = (
        "pip install 'embodex[ray]'; give --ray auto (a local Ray) or the address of a running "
        "cluster (host:6379 or ray://host:10001); see specs/scale.md."
    )
