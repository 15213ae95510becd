"""Names and places as people write them, and a readable label for a record with none.

Imported files shout ("MÜLLER"), whisper ("anna schmidt") or carry no name at all; a
page should show "Müller", "Anna Schmidt" and "Guest — newsletter", never the id
``newsletter:000406``. Names already in mixed case are left as their owner wrote them:
"McDonald", "van der Berg" and "DiCaprio" cannot be guessed back from lower case.

>>> proper_case("JEAN-PIERRE O'NEILL"), proper_case("ludwig van beethoven")
("Jean-Pierre O'Neill", 'Ludwig van Beethoven')
>>> proper_case("John HARMSEN"), proper_case("Anna van der Berg"), proper_case("Ray McDonald")
('John Harmsen', 'Anna van der Berg', 'Ray McDonald')
>>> display_name(None, "newsletter:000406")
'Guest — newsletter'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

# Particles kept lower case inside a name or place ("Ludwig van Beethoven", "Frankfurt am
# Main"), never as its first word.
PARTICLES = frozenset(
    ["van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "des", "la", "le",
     "zu", "ten", "ter", "y", "e", "bin", "al", "am", "an", "im", "ob", "sur", "upon", "on"]
)  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


def _cased(word: str, first: bool) -> str:
    low = word.lower()
    if not first and low in PARTICLES:
        return low
    head, sep, tail = low.partition("'") if "'" in low else low.partition("’")
    if low.startswith("mc") and len(low) > 3:  # MCDONALD → McDonald
        return "Mc" + low[2].upper() + low[3:]
    if sep and len(head) == 1:  # O'Neill, d'Artagnan stays as "D'Artagnan" at the start
        return head.upper() + sep + tail[:1].upper() + tail[1:]
    return low[:1].upper() + low[1:]


def proper_case(text: str | None) -> str:
    """``text`` in title case when it was all upper or all lower case; else unchanged."""
    if not text:
        return ""
    return _proper_case(text)


@functools.lru_cache(maxsize=16384)  # a list page shows 50 names, and cities repeat
def _proper_case(text: str) -> str:
    words = text.split()
    text = " ".join(words)
    if text == text.upper() or text == text.lower():
        return _words(text, keep=lambda word: False)
    # Mixed as a whole, as when a first name and a surname were typed apart ("John
    # HARMSEN"): each word in one case is cased; a word in mixed case ("McDonald") and a
    # particle written in lower case ("van der Berg") stay as written.
    if all(_kept(w) for w in words):  # the common case: written as it should be
        return text
    return _words(text, keep=_kept)


def _kept(word: str) -> bool:
    return word != word.upper() and (word != word.lower() or word in PARTICLES)


def _words(text: str, keep: Callable[[str], bool]) -> str:
    out, last = [], 0
    for i, m in enumerate(re.finditer(r"\S+", text)):
        out.append(text[last : m.start()])
        token = m.group()
        first = i == 0
        if keep(token):
            out.append(token)
        else:
            out.append(_WORD.sub(lambda w: _cased(w.group(), first), token))  # noqa: B023
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def source_of(record_id: str | None) -> str:
    """The source a record id names (``newsletter:000406`` → ``newsletter``), else ''."""
    if not record_id or ":" not in record_id:
        return ""
    return record_id.split(":", 1)[0].replace("_", " ")


def display_name(name: str | None, record_id: str | None = None, source: str | None = None) -> str:
    """The name to show for a person or record: normalised, or "Guest — SOURCE"."""
    shown = proper_case(name)
    if shown:
        return shown
    where = (source or source_of(record_id)).replace("_", " ")
    return f"Guest — {where}" if where else "Guest"


def record_label(record_id: str | None) -> str:
    """A record as words for a list of a person's records: "newsletter record"."""
    where = source_of(record_id)
    return f"{where} record" if where else "record"


__all__ = ["PARTICLES", "display_name", "proper_case", "record_label", "source_of"]
