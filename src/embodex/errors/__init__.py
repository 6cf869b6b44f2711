"""The whole embodex exception tree, one module per layer, every class re-exported here.

Each layer's errors live beside the others of that layer, in the order of ARCHITECTURE.md:
``base`` (the root, settings, safe paths), ``storage``, ``format`` (with the importers and
exporters), ``qc``, ``trust``, ``contract``, ``delivery``, ``market``, ``train``, and the
review ``console`` (an application over them). Import them from here
(``from embodex.errors import SchemaError``); :data:`LAYERS` lists them by layer.

Every error carries its facts as attributes (``path``, ``url``, ``episode_id``, ``key_name``,
``key_id``, ``batch``, ``field``; see :class:`EmbodexError`) and a ``hint``: the fix in Python
terms. The CLI prints ``message — hint`` on one line in its own words (``embodex_cli.errors``)
and exits non-zero; library callers catch the class they care about.
"""

from __future__ import annotations

from . import base, console, contract, delivery, market, qc, storage, train, trust
from . import format as format_
from .base import ConfigError, EmbodexError, RemoteError, UnsafePathError
from .console import ConsoleError
from .contract import ContractError, ContractStateError
from .delivery import (
    ChannelError,
    DeliveryError,
    FrozenChannelError,
    PullLockedError,
    RegionError,
    RollbackError,
    ScopeError,
)
from .format import (
    ClusterError,
    CorruptDatasetError,
    DatasetExistsError,
    DatasetLockedError,
    DatasetNotFoundError,
    EpisodeIndexError,
    FormatError,
    ImportSourceError,
    InteropError,
    MissingExtraError,
    PrivacyError,
    SchemaError,
    TrimError,
    UnsupportedFormatError,
    VerificationError,
)
from .market import (
    CatalogError,
    DemandError,
    MarketError,
    PriceSheetError,
    ProvenanceError,
    QuoteError,
    SamplePackError,
)
from .qc import ProfileError, QCError, QCFailedError, QCManifestError, ReviewError
from .storage import (
    ObjectNotFoundError,
    StorageAccessError,
    StorageError,
    StorageIntegrityError,
    UnsafeKeyError,
)
from .train import LoaderConfigError, QCManifestMissingError
from .trust import (
    ConsentError,
    KeyExistsError,
    KeyNotFoundError,
    KeyPermissionError,
    LedgerError,
    PassphraseError,
    PayloadError,
    SignatureError,
    TrustError,
)

#: Every error class by layer, bottom up (the order of ARCHITECTURE.md), the console last.
LAYERS: dict[str, tuple[type[EmbodexError], ...]] = {
    module.__name__.rsplit(".", 1)[1]: tuple(getattr(module, name) for name in module.__all__)
    for module in (base, storage, format_, qc, trust, contract, delivery, market, train, console)
}

__all__ = [
    "LAYERS",
    "CatalogError",
    "ChannelError",
    "ClusterError",
    "ConfigError",
    "ConsentError",
    "ConsoleError",
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
    "PrivacyError",
    "ProfileError",
    "ProvenanceError",
    "PullLockedError",
    "QCError",
    "QCFailedError",
    "QCManifestError",
    "QCManifestMissingError",
    "QuoteError",
    "RegionError",
    "RemoteError",
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
    "UnsafePathError",
    "UnsupportedFormatError",
    "VerificationError",
]
