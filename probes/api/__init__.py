"""LLM-API usage: each call's tokens read from a provider's response (OpenAI, Anthropic, Gemini),
priced by dated cards, recorded live or imported from a log (``receipts import api-log``).

Modules: :mod:`~probes.api.response` (a response's usage, split without double counting),
:mod:`~probes.api.usage` (model ids matched to cards, tallies, live recording),
:mod:`~probes.api.log` (the log import) and :mod:`~probes.api.cli`.

Public API: :class:`ApiMeter` (counts the calls made inside a metered run), :func:`record_call`,
:func:`parse_response` and its :class:`ApiCall`, :func:`resolve_resource` and
:func:`import_api_log`. Names load on first use: importing the package pulls in neither pydantic
nor SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probes.lazy import lazy_exports

if TYPE_CHECKING:
    from probes.api.log import import_api_log
    from probes.api.response import ApiCall, parse_response
    from probes.api.usage import ApiMeter, record_call, resolve_resource

_WHERE = {
    "ApiCall": "response",
    "parse_response": "response",
    "ApiMeter": "usage",
    "record_call": "usage",
    "resolve_resource": "usage",
    "import_api_log": "log",
}

__all__ = ["ApiCall", "ApiMeter", "import_api_log", "parse_response", "record_call",
           "resolve_resource"]  # fmt: skip

__getattr__ = lazy_exports(__name__, _WHERE)
