"""Audit appendices: one typed result (:class:`~receipts.appendix.schema.Appendix`) rendered as
Markdown, LaTeX, self-contained HTML, JSON and, with the ``pdf`` extra, PDF."""

from receipts.appendix.build import build_appendix
from receipts.appendix.errors import AppendixError, AppendixInputError
from receipts.appendix.schema import Appendix
from receipts.appendix.write import (
    BUNDLE,
    FORMATS,
    check_format,
    check_formats,
    check_output,
    write_appendix,
    write_bundle,
)

__all__ = [
    "BUNDLE",
    "FORMATS",
    "Appendix",
    "AppendixError",
    "AppendixInputError",
    "build_appendix",
    "check_format",
    "check_formats",
    "check_output",
    "write_appendix",
    "write_bundle",
]
