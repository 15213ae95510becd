"""Brand, product and competitor mentions from a small catalogue file, with share of voice.

The catalogue is JSON in the shape of ``socialcrm/synth/catalogue.json``::

    {"brand": {"name": "Nordlicht", "aliases": [...], "hashtags": ["#nordlicht"],
               "handles": {"twitter": "nordlicht"}},
     "products": [{"id": "NL-AUR", "name": "Aurora Headlamp", "aliases": ["Aurora"],
                   "hashtags": ["#AuroraHeadlamp"], "aspects": ["battery", "design"]}],
     "competitors": [{"name": "Trollberg", "aliases": [...], "hashtags": [...],
                      "handles": {...}}]}

Matching runs as one RE2 pattern per entity over whole Arrow columns. Names that are
also ordinary words ("Aurora", "Glacier", "Polaris") are matched only when written with
their capital, so "the aurora was stunning" is not a product mention while "my Aurora
died" is; phrases, names with digits, hashtags and handles match in any case.

A post that names several entities gets a sentiment for each (aspect-targeted): the
clauses that name an entity are scored on their own, so "Love Nordlicht but the Aurora
battery died" is positive about the brand and negative about the product.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Required, TypedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.listening.lexicon import lexicon_scores
from socialcrm.listening.text import as_arrow, normalise_array

EntityKind = Literal["brand", "product", "competitor"]

ASPECT_WORDS: dict[str, str] = {
    "battery": r"batter(?:y|ies)|charg(?:e|es|ed|ing)|power|died|dies|runtime",
    "fit": r"\bfit(?:s|ting)?\b|\bsiz(?:e|es|ing)\b|\btight\b|\bloose\b|\bsmall\b|\blarge\b",
    "waterproofing": r"waterproof|\bleak|\bsoak|\bwet\b|\bdry\b|\brain\b|seams?",
    "warmth": r"\bwarm|\bcold\b|freez|\bchilly\b|insulat",
    "comfort": r"comfort|comfy|blister|\bsore\b|cushion",
    "durability": r"\bbr(?:oke|oken|eaks?)\b|fell apart|\bt(?:ore|orn|ear)\b|ripped|durab"
    r"|lasted|\bwear",
    "app": r"\bapp\b|\bsync|bluetooth|firmware|update",
    "design": r"design|\blooks?\b|colou?r|\bstyle|\bsleek|\bugly\b",
    "price": r"\bprice|expensive|\bcheap|overpriced|\bworth\b|€|\$|£",
    "delivery": r"deliver|shipping|shipped|parcel|package|courier|arriv",
    "customer_service": r"support|customer service|\bagent\b|\bhelpline\b|on hold|\bchat\b",
    "returns": r"\breturn|refund|exchange",
    "sustainability": r"sustainab|recycl|\beco\b|planet|climate|plastic",
    "website": r"website|\bsite\b|checkout|\blogin\b|\blog in\b",
}
"""Keywords that tie a clause to an aspect (the catalogue's ``topics``)."""


class CompanyJSON(TypedDict, total=False):
    """The brand or a competitor in the catalogue JSON (other keys are ignored)."""

    name: Required[str]
    aliases: list[str]
    hashtags: list[str]
    handles: dict[str, str]


class ProductJSON(TypedDict, total=False):
    """A product in the catalogue JSON (other keys are ignored)."""

    id: str
    name: Required[str]
    aliases: list[str]
    hashtags: list[str]
    aspects: list[str]


class CatalogueJSON(TypedDict, total=False):
    """The catalogue JSON, as far as :meth:`Catalogue.from_dict` reads it."""

    brand: CompanyJSON
    products: list[ProductJSON]
    competitors: list[CompanyJSON]


@dataclass(frozen=True)
class Entity:
    """Something the brand wants to hear about: itself, a product or a competitor."""

    id: str
    kind: EntityKind
    name: str
    aliases: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()

    @property
    def pattern(self) -> str:
        """One RE2 pattern that finds the entity in a (not lower-cased) text."""
        parts: list[str] = []
        for alias in sorted({self.name, *self.aliases}, key=len, reverse=True):
            words = alias.split()
            body = r"\s+".join(re.escape(w) for w in words)
            ordinary = (
                len(words) == 1 and alias[:1].isupper() and not any(c.isdigit() for c in alias)
            )
            if ordinary and alias[1:].islower():
                parts.append(rf"\b{body}\b")
            else:
                parts.append(rf"(?i:\b{body}\b)")
        for tag in self.hashtags:
            parts.append(rf"(?i:{re.escape(tag)}\b)")
        for handle in self.handles:
            parts.append(rf"(?i:@{re.escape(handle.split('@')[0])}\b)")
        return "|".join(parts)


@dataclass(frozen=True)
class Catalogue:
    """The brand, its products and its competitors."""

    entities: tuple[Entity, ...]

    @classmethod
    def from_dict(cls, d: CatalogueJSON) -> Catalogue:
        """Build from the JSON structure described in the module docstring.

        >>> c = Catalogue.from_dict({"brand": {"name": "Acme", "aliases": ["ACME"]},
        ...     "products": [{"id": "A1", "name": "Rocket", "aliases": ["Rocket 2"]}],
        ...     "competitors": [{"name": "Bolt"}]})
        >>> [(e.id, e.kind) for e in c.entities]
        [('brand:acme', 'brand'), ('product:A1', 'product'), ('competitor:bolt', 'competitor')]
        """

        def company(x: CompanyJSON, kind: EntityKind) -> Entity:
            handles = tuple(sorted(set((x.get("handles") or {}).values())))
            return Entity(
                id=f"{kind}:{_slug(x['name'])}",
                kind=kind,
                name=x["name"],
                aliases=tuple(x.get("aliases", ())),
                hashtags=tuple(x.get("hashtags", ())),
                handles=handles,
            )

        entities = [company(d["brand"], "brand")] if d.get("brand") else []
        for p in d.get("products", ()):
            entities.append(
                Entity(
                    id=f"product:{p.get('id') or _slug(p['name'])}",
                    kind="product",
                    name=p["name"],
                    aliases=tuple(p.get("aliases", ())),
                    hashtags=tuple(p.get("hashtags", ())),
                    aspects=tuple(p.get("aspects", ())),
                )
            )
        entities += [company(c, "competitor") for c in d.get("competitors", ())]
        return cls(tuple(entities))

    @classmethod
    def load(cls, path: Path | str) -> Catalogue:
        """Read a catalogue JSON file."""
        return cls.from_dict(json.loads(Path(path).read_text("utf-8")))

    @classmethod
    def demo(cls) -> Catalogue:
        """The demo brand's catalogue (Nordlicht), shipped with ``socialcrm.synth``.

        >>> Catalogue.demo().entities[0].name
        'Nordlicht'
        """
        from importlib.resources import files

        text = files("socialcrm.synth").joinpath("catalogue.json").read_text("utf-8")
        return cls.from_dict(json.loads(text))

    def of_kind(self, kind: EntityKind) -> tuple[Entity, ...]:
        """The entities of one kind, in catalogue order."""
        return tuple(e for e in self.entities if e.kind == kind)

    def words(self) -> frozenset[str]:
        """Every word of every name, alias and hashtag, lower-cased, without ``#``.

        >>> c = Catalogue.from_dict({"brand": {"name": "Acme Co", "hashtags": ["#acme"]}})
        >>> sorted(c.words())
        ['acme', 'co']
        """
        return frozenset(
            w.lower().lstrip("#")
            for e in self.entities
            for name in (e.name, *e.aliases, *e.hashtags)
            for w in name.split()
        )

    def brand_handles(self) -> frozenset[str]:
        """The brand's own handles, lower-cased, without any ``@server`` part.

        >>> Catalogue.demo().brand_handles() >= {"nordlicht", "nordlicht.outdoor"}
        True
        """
        return frozenset(h.lower().split("@")[0] for e in self.of_kind("brand") for h in e.handles)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def find_mentions(
    texts: Sequence[str] | pa.Array | pa.ChunkedArray, catalogue: Catalogue
) -> list[list[str]]:
    """Entity ids mentioned in each text, in catalogue order.

    >>> cat = Catalogue.from_dict({"brand": {"name": "Nordlicht", "hashtags": ["#nordlicht"]},
    ...     "products": [{"id": "AUR", "name": "Aurora Headlamp", "aliases": ["Aurora"]}]})
    >>> find_mentions(["my Aurora died", "the aurora tonight!", "#Nordlicht rocks"], cat)
    [['product:AUR'], [], ['brand:nordlicht']]
    """
    arr = as_arrow(texts)
    hits = [
        np.asarray(pc.match_substring_regex(arr, e.pattern).fill_null(False), dtype=bool)
        for e in catalogue.entities
    ]
    if not hits:
        return [[] for _ in range(len(arr))]
    matrix = np.column_stack(hits)
    ids = [e.id for e in catalogue.entities]
    return [[ids[j] for j in np.flatnonzero(row)] for row in matrix]


_CLAUSE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s+(?:but|however|although|though|whereas)\s+", re.I)


@dataclass(frozen=True)
class MentionRow:
    """One (post, entity) pair with the sentiment and aspects of the clauses naming it."""

    row: int
    entity_id: str
    score: float
    aspects: tuple[str, ...]


def mention_sentiment(
    texts: Sequence[str] | pa.Array | pa.ChunkedArray,
    catalogue: Catalogue,
    post_scores: np.ndarray | None = None,
) -> list[MentionRow]:
    """Sentiment about each entity a post names (aspect-targeted), with aspects.

    A post naming one entity gives it the post's score (``post_scores``, or the
    lexicon's); a post naming several scores, for each entity, the clauses that name it.

    >>> cat = Catalogue.from_dict({"brand": {"name": "Nordlicht"},
    ...     "products": [{"id": "AUR", "name": "Aurora Headlamp", "aliases": ["Aurora"]}]})
    >>> rows = mention_sentiment(["Love Nordlicht but my Aurora battery died"], cat)
    >>> [(r.entity_id, r.score > 0, r.aspects) for r in rows]
    [('brand:nordlicht', True, ()), ('product:AUR', False, ('battery',))]
    """
    arr = as_arrow(texts)
    clean = normalise_array(arr).to_pylist()
    mentions = find_mentions(arr, catalogue)
    if post_scores is None:
        post_scores = lexicon_scores(arr).compound
    # RE2's scoped flags "(?i:...)" mean the same in Python's re.
    patterns = {e.id: re.compile(e.pattern) for e in catalogue.entities}
    aspect_res = {a: re.compile(p, re.I) for a, p in ASPECT_WORDS.items()}

    pending: list[tuple[int, str, list[str]]] = []
    for i, ids in enumerate(mentions):
        if not ids:
            continue
        clauses = [c for c in _CLAUSE_SPLIT.split(clean[i] or "") if c]
        for eid in ids:
            own = [c for c in clauses if patterns[eid].search(c)] or clauses
            pending.append((i, eid, own))
    flat = [c for _, _, own in pending for c in own]
    clause_scores = lexicon_scores(flat).compound if flat else np.zeros(0)

    aspects_of = _aspects([" ".join(own) for _, _, own in pending], aspect_res)
    rows: list[MentionRow] = []
    k = 0
    for (i, eid, own), aspects in zip(pending, aspects_of, strict=True):
        scores = clause_scores[k : k + len(own)]
        k += len(own)
        single = len(mentions[i]) == 1
        score = float(post_scores[i]) if single else float(np.mean(scores))
        rows.append(MentionRow(i, eid, score, aspects))
    return rows


def _aspects(texts: list[str], aspect_res: dict[str, re.Pattern[str]]) -> list[tuple[str, ...]]:
    """The aspects each text names. ASCII texts go through RE2 (Arrow), one pass per
    aspect; on those RE2 and Python's ``re`` agree (only Unicode word boundaries and
    case folding differ), so the rest, with any non-ASCII character, keep ``re``."""
    names = list(aspect_res)
    if not texts:
        return []
    arr = pa.array(texts, pa.string())
    plain = np.asarray(pc.string_is_ascii(arr), dtype=bool)
    bits = np.zeros(len(texts), dtype=np.int64)
    for j, name in enumerate(names):
        hit = pc.match_substring_regex(arr, ASPECT_WORDS[name], ignore_case=True)
        bits |= np.asarray(hit, dtype=bool).astype(np.int64) << j
    by_bits: dict[int, tuple[str, ...]] = {}
    out: list[tuple[str, ...]] = []
    for text, ascii_only, b in zip(texts, plain.tolist(), bits.tolist(), strict=True):
        if not ascii_only:
            out.append(tuple(a for a, rx in aspect_res.items() if rx.search(text)))
            continue
        found = by_bits.get(b)
        if found is None:
            found = by_bits[b] = tuple(n for j, n in enumerate(names) if b >> j & 1)
        out.append(found)
    return out


def share_of_voice(volumes: dict[str, int]) -> dict[str, float]:
    """Each company's share of the mentions of all companies (brand and competitors).

    >>> share_of_voice({"brand:acme": 30, "competitor:bolt": 10})
    {'brand:acme': 0.75, 'competitor:bolt': 0.25}
    """
    total = sum(volumes.values())
    return {k: (v / total if total else 0.0) for k, v in volumes.items()}
