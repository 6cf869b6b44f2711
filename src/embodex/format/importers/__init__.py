"""Importers from raw recording layouts into embodex datasets."""

from .agibot import SIDECAR_FILE, import_agibot, load_sidecar
from .report import ImportReport

__all__ = ["SIDECAR_FILE", "ImportReport", "import_agibot", "load_sidecar"]
