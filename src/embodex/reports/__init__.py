"""Reports: every HTML page and SVG chart embodex writes, fed by the typed results of the layers.

* htmlkit, svg — the page shell, tables, badges, episode sections; bar, line and histogram charts
* qc_page — a dataset's QC report (:func:`write_report`; :func:`qc_report` says what it wrote)
* review_page — the page a reviewer opens for one episode (:func:`write_review_page`)
* catalog_page — a verified catalogue for buyers (:func:`write_catalog_html`)
* supply_page — supply status per period (:func:`write_supply_report`)

Nothing here computes a figure of its own: the numbers come from the SDK's result objects
(a QC manifest, a catalogue, a supply report). Pages are self-contained (inline CSS and SVG),
written atomically, mode 0644.

Each page module sits just above the layer whose results it renders, so a layer may embed the
page of a layer below it (a sample pack carries its QC page); names here load on first use so
that importing one page never loads the layers of another.

Example::

    from embodex.reports import write_report
    write_report("datasets/week01", "week01-qc.html")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .catalog_page import catalog_html, write_catalog_html
    from .qc_page import QCReport, qc_report, write_report
    from .review_page import write_review_page
    from .supply_page import render_supply_report, write_supply_report

__all__ = [
    "QCReport",
    "catalog_html",
    "qc_report",
    "render_supply_report",
    "write_catalog_html",
    "write_report",
    "write_review_page",
    "write_supply_report",
]

_WHERE = {
    "catalog_html": "catalog_page",
    "write_catalog_html": "catalog_page",
    "write_report": "qc_page",
    "qc_report": "qc_page",
    "QCReport": "qc_page",
    "write_review_page": "review_page",
    "render_supply_report": "supply_page",
    "write_supply_report": "supply_page",
}


__getattr__ = lazy_exports(__name__, _WHERE)
