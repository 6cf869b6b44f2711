"""The marketplace front door: catalogues, sample packs, demands, matching, quotes, provenance.

A centre publishes what it holds and can collect (a signed catalogue, no frames) and a small
watermarked sample pack; a buyer browses the catalogue, tries the pack, states a demand,
sees how it matches (stock now, hours to collect and by when, shortfall), gets a quote whose
arithmetic is exact and shown line by line, and turns it into a contract draft. Every
listed dataset and sample episode carries a chain of signed provenance statements.

The usual flow::

    from embodex.market import (build_catalog, open_catalog, load_demand, build_quote,
                                draft_contract, build_sample_pack, load_price_sheet)
    build_catalog(["datasets/week01"], "catalog", centre_signer, prices=load_price_sheet(None))
    catalog = open_catalog("catalog")                 # verified against the key store
    quote, match = build_quote(catalog.listing, load_demand("demand.yaml"))
    yaml_text = draft_contract(quote, catalog.listing, buyer=load_identity("agibot"))

What the commands show comes from :mod:`.views`: :func:`catalog_figures` (every figure of a
catalogue, computed once), :func:`show_catalog`, :func:`make_catalog`,
:func:`match_demand_file` and :func:`quote_demand`.

Spec: ``specs/catalog.md``.
"""

from .capacity import Capacity, SceneInfo, builtin_scenes, load_capacity
from .catalog import Catalog, build_catalog, open_catalog, read_catalog
from .contract_draft import contract_from_quote, draft_contract
from .demand import (
    Demand,
    DemandItem,
    DemandLine,
    demand_today,
    load_demand,
    parse_demand,
    require_dates_ahead,
)
from .listing import Holding, Listing
from .matching import MatchLine, MatchResult, match_demand
from .prices import PriceSheet, default_price_sheet, default_price_sheet_text, load_price_sheet
from .provenance import (
    ProvenanceChain,
    Statement,
    ensure_dataset_provenance,
    read_chain_file,
    verify_chain,
)
from .provenance_sources import Provenance, open_provenance
from .publish import (
    PublishReport,
    SampleOffer,
    find_sample_offer,
    open_catalog_url,
    publish_catalog,
    pull_sample,
)
from .quote import Quote, build_quote, check_arithmetic, load_quote, verify_quote, write_quote
from .sample import SamplePack, build_sample_pack, choose_sample, verify_sample_pack
from .views import (
    BuiltCatalog,
    CatalogFigures,
    CatalogView,
    catalog_figures,
    make_catalog,
    match_demand_file,
    quote_demand,
    show_catalog,
)
from .watermark import burn_mark, has_mark

__all__ = [
    "BuiltCatalog",
    "Capacity",
    "Catalog",
    "CatalogFigures",
    "CatalogView",
    "Demand",
    "DemandItem",
    "DemandLine",
    "Holding",
    "Listing",
    "MatchLine",
    "MatchResult",
    "PriceSheet",
    "Provenance",
    "ProvenanceChain",
    "PublishReport",
    "Quote",
    "SampleOffer",
    "SamplePack",
    "SceneInfo",
    "Statement",
    "build_catalog",
    "build_quote",
    "build_sample_pack",
    "builtin_scenes",
    "burn_mark",
    "catalog_figures",
    "check_arithmetic",
    "choose_sample",
    "contract_from_quote",
    "default_price_sheet",
    "default_price_sheet_text",
    "demand_today",
    "draft_contract",
    "ensure_dataset_provenance",
    "find_sample_offer",
    "has_mark",
    "load_capacity",
    "load_demand",
    "load_price_sheet",
    "load_quote",
    "make_catalog",
    "match_demand",
    "match_demand_file",
    "open_catalog",
    "open_catalog_url",
    "open_provenance",
    "parse_demand",
    "publish_catalog",
    "pull_sample",
    "quote_demand",
    "read_catalog",
    "read_chain_file",
    "require_dates_ahead",
    "show_catalog",
    "verify_chain",
    "verify_quote",
    "verify_sample_pack",
    "write_quote",
]
