"""Text helpers of the renderers: escaping for HTML, <script>, Markdown and plotly, and number formats."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Any

__all__ = [
    "LABEL_CLASS",
    "badge",
    "code_spans",
    "esc",
    "fmt_num",
    "fmt_pct",
    "fmt_pp",
    "fmt_when",
    "md_escape",
    "plot_text",
    "script_json",
]


LABEL_CLASS = {
    "rising": "rising",
    "declining": "declining",
    "stable": "stable",
    "dormant": "dormant",
    "insufficient data": "insufficient",
}


def esc(value: object) -> str:
    """Return ``value`` as text safe in HTML element content and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def script_json(value: object) -> str:
    """Return JSON safe inside a <script> element (no `<`, `>`, `&`, U+2028/9 left raw)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def code_spans(escaped: str) -> str:
    """Turn `backticked` parts of already-escaped text into <code> elements."""
    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped)


_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~]")


_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # only an `&` that would start an entity


_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # snake_case stays as is


def md_escape(value: object) -> str:
    """Return ``value`` as inert Markdown table/prose text: Markdown backslash escapes for the
    characters that would change its meaning (``|`` in tables, emphasis, links, code, tags),
    never HTML entities, so ``Weights & Biases`` stays readable in the raw file."""
    text = "" if value is None else str(value)
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    text = _MD_ENTITY.sub(r"\\&", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    return re.sub(r"[\r\n\u2028\u2029]+", " ", text)


def plot_text(value: object) -> str:
    """Text for plotly labels: plotly reads a few HTML-like tags, so escape them."""
    return html.escape("" if value is None else str(value), quote=False)


def fmt_pct(f: Any) -> str:
    if f is None:
        return "n/a"
    return f"{(float(f) - 1) * 100:+.0f}%"


def fmt_num(v: Any) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.1f}{suf}"
    return f"{v:.0f}"


def fmt_pp(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):+.1f} pp"


def badge(label: str) -> str:
    return f'<span class="badge {LABEL_CLASS.get(label, "insufficient")}">{esc(label)}</span>'


def fmt_when(value: Any) -> str:
    """A stored UTC time as ``2026-11-30 21:52 UTC`` (no seconds, no microseconds)."""
    if value is None:
        return "never"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
