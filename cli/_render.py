"""How a stored extraction reads in a terminal: key fields, key clauses, then every finding."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from charmelio.contract import TOPIC_FIELDS

if TYPE_CHECKING:
    from charmelio.results import StoredView


def render_view(view: StoredView) -> str:
    extraction = view.extraction
    fields: dict[str, Any] = extraction.get("fields") or {}
    lines = [
        f"extraction {extraction['extraction_id']}  document {extraction['document_id']}",
        *([f"file       {', '.join(view.document_names)}"] if view.document_names else []),
        f"status     {extraction['status']}"
        + (f"  ({extraction['provider']}/{extraction['model']})" if extraction["provider"] else ""),
    ]
    if extraction.get("llm_requests"):
        lines.append(
            f"llm usage  {extraction['llm_requests']} request(s), "
            f"{extraction.get('tokens_used') or 0:,} tokens "
            f"({extraction.get('prompt_tokens') or 0:,} prompt + "
            f"{extraction.get('completion_tokens') or 0:,} completion)"
        )
    if extraction["status"] == "failed":
        lines.append(
            f"failed in  {extraction['failed_stage']}: {extraction['error_type']}: "
            f"{extraction['error_message']}"
        )
        return "\n".join(lines)
    parties = ", ".join(p.get("name", "?") for p in fields.get("parties") or [])
    ends = fields.get("termination_date") or ("perpetual" if fields.get("perpetual") else None)
    for label, value in (
        ("parties", parties),
        ("signed", fields.get("agreement_date")),
        ("effective", fields.get("effective_date")),
        ("ends", ends),
        ("term", fields.get("term_length")),
        ("renewal", fields.get("renewal_term")),
        ("notice", fields.get("renewal_notice_period")),
        ("law", fields.get("governing_law")),
    ):
        if value:
            lines.append(f"{label:<10} {value}")
    topics = [(name, fields[name]) for name in TOPIC_FIELDS if fields.get(name)]
    if topics:
        lines.append("\nkey clauses:")
        for name, topic in topics:
            quote = textwrap.shorten(" ".join(str(topic["quote"]).split()), 80, placeholder=" …")
            lines.append(f"  {name.replace('_', ' '):<24} p.{topic['page']:<3} {quote}")
    lines.append(f"\n{len(view.clauses)} clause finding(s):")
    lines.append(f"{'CATEGORY':<34} {'PAGE':>4}  QUOTE")
    for clause in view.clauses:
        quote = " ".join(str(clause["quote"]).split())
        short = textwrap.shorten(quote, width=90, placeholder=" …")
        lines.append(f"{clause['category']:<34} {clause['page']:>4}  {short}")
    return "\n".join(lines)
