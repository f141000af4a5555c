"""Sentence segmentation of one page, keeping offsets so every sentence is a verbatim page slice.

Segmenting page by page means a rule match can never straddle two pages, so its page is known.
Contract text defeats naive splitting on ". " (``Inc.``, ``Section 2.1.``, ``U.S.``), and PDF text
often has headings on their own line without a full stop; both are handled here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from charmelio.contract import PageText

# Longer "sentences" are run-on lists or tables; a prefix is still a verbatim quote.
MAX_SENTENCE_CHARS = 1500

_TERMINAL = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s)")
_BLANK_LINE = re.compile(r"\n[ \t\u00a0\f\r]*\n")
_LINE = re.compile(r"[^\n]+")
_LAST_WORD = re.compile(r"\S+\Z")
_NEXT_CHAR = re.compile(r"\s*(\S)")
_ABBREVIATIONS = frozenset(
    {
        *("inc", "ltd", "co", "corp", "no", "nos", "sec", "secs", "art", "arts", "e.g", "i.e"),
        *("u.s", "mr", "mrs", "ms", "dr", "st", "vs", "cf", "fig", "par", "para", "approx"),
        *("dept", "est", "jr", "sr", "ave", "blvd", "rd", "s.a", "n.v", "b.v", "l.l.c", "l.p"),
    }
)
_SECTION_NUMBER = re.compile(r"\(?[0-9]{1,3}(?:\.[0-9]{1,3})*|[A-Za-z]")
# Section numbers, list markers and "(a)"-style enumerators in front of a sentence.
_LEADER = re.compile(
    r"(?:(?:\(?[0-9]{1,3}(?:\.[0-9]{1,3})*[.)]?|\([A-Za-z]{1,5}\)|[A-Za-z][.)]|[ivxIVX]{1,5}[.)])"
    r"[ \t\u00a0\n]+)+"
)


@dataclass(frozen=True)
class Sentence:
    page: int
    start: int  # offset in the page text
    end: int
    text: str


def _is_upper_line(line: str) -> bool:
    stripped = line.strip()
    return 0 < len(stripped) <= 80 and stripped.isupper()


def _heading_ends(text: str) -> set[int]:
    """Ends of short upper-case lines followed by ordinary prose (not a paragraph in capitals)."""
    lines = list(_LINE.finditer(text))
    return {
        line.end()
        for line, following in pairwise(lines)
        if _is_upper_line(line.group()) and any(c.islower() for c in following.group())
    }


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in "\"'(\u201c["


def _boundaries(text: str) -> list[int]:
    cuts = {m.end() for m in _BLANK_LINE.finditer(text)}
    cuts.update(_heading_ends(text))
    for match in _TERMINAL.finditer(text):
        before = _LAST_WORD.search(text, max(0, match.start() - 40), match.start())
        word = before.group() if before else ""
        if word.lower().lstrip("(") in _ABBREVIATIONS or _SECTION_NUMBER.fullmatch(word):
            continue
        after = _NEXT_CHAR.match(text, match.end())
        if after and not _starts_sentence(after.group(1)):
            continue
        cuts.add(match.end())
    return sorted(cuts)


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    leader = _LEADER.match(text, start, end)
    if leader and leader.end() < end:
        start = leader.end()
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start > MAX_SENTENCE_CHARS:
        cut = text.rfind(" ", start, start + MAX_SENTENCE_CHARS)
        end = cut if cut > start else start + MAX_SENTENCE_CHARS
        while end > start and text[end - 1].isspace():
            end -= 1
    return start, end


def split_sentences(page: PageText) -> list[Sentence]:
    text = page.text
    sentences: list[Sentence] = []
    previous = 0
    for cut in [*_boundaries(text), len(text)]:
        start, end = _trimmed(text, previous, cut)
        previous = max(previous, cut)
        if end - start >= 2 and any(c.isalpha() for c in text[start:end]):
            sentences.append(Sentence(page.page, start, end, text[start:end]))
    return sentences
