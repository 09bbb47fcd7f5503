"""The self-contained HTML report: a jinja2 template with the figures embedded."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2

_TEMPLATES = Path(__file__).parent / "templates"


def figure(png: bytes, *, alt: str, caption: str) -> dict[str, str]:
    """A figure for the template: PNG bytes embedded as base64."""
    return {"png": base64.b64encode(png).decode("ascii"), "alt": alt, "caption": caption}


def render_report(context: dict[str, Any], *, template: str = "report.html.j2") -> str:
    """Render ``template`` (the report by default; also ``compare.html.j2`` and
    ``sweep.html.j2``) with ``context`` (see the template for its keys)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template(template).render(**context)
