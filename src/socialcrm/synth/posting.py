"""What a post is while it is being generated, and what writing one needs.

A ``Batch`` holds posts column-wise, together with their truth (intent, sentiment, topic,
entity). ``PostContext`` carries the shared inputs: accounts, follow graph, catalogue
names and the template banks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from socialcrm.store.schemas import PLATFORMS
from socialcrm.synth import phrases
from socialcrm.synth.accounts import BRAND, Accounts
from socialcrm.synth.catalogue import load_catalogue
from socialcrm.synth.graph import Graph
from socialcrm.synth.people import Persons
from socialcrm.synth.strings import S, cat, sarr, stream
from socialcrm.synth.text import ClauseBank, TemplateBank


@dataclass
class Batch:
    author: np.ndarray
    at: np.ndarray
    text: np.ndarray
    lang: np.ndarray
    intent: np.ndarray
    sentiment: np.ndarray
    topic: np.ndarray
    entity: np.ndarray
    product: np.ndarray
    """Catalogue product index, -1 when the post is not about a product."""
    company: np.ndarray
    """0 the brand, 1.. a competitor: whose {b} the post names."""
    aspect: np.ndarray
    idea: np.ndarray
    sarcastic: np.ndarray
    is_spam: np.ndarray
    reply_to: np.ndarray
    reshare_of: np.ndarray
    event: np.ndarray

    def __len__(self) -> int:
        return len(self.author)


def concat(batches: list[Batch]) -> Batch:
    return Batch(
        **{
            f.name: np.concatenate([getattr(b, f.name) for b in batches]).astype(
                getattr(batches[0], f.name).dtype
            )
            for f in fields(Batch)
        }
    )


class PostContext:
    """What every step needs: accounts, graph, catalogue names and the text banks."""

    def __init__(self, persons: Persons, accounts: Accounts, graph: Graph, seed: int) -> None:
        self.rng = stream(seed, "posts")
        self.persons = persons
        self.accounts = accounts
        self.graph = graph
        self.cat = load_catalogue()
        self.posts_bank = TemplateBank.build(
            {(lang, i, s): t for lang, d in phrases.TEMPLATES.items() for (i, s), t in d.items()}
        )
        self.reply_bank = TemplateBank.build(
            {("en", i, s): t for (i, s), t in phrases.REPLIES.items()}
            | {("en", "thanks", "positive"): phrases.THANKS}
            | {("en", "follow_up_" + i, s): t for (i, s), t in phrases.AUTHOR_FOLLOW_UPS.items()}
        )
        self.brand_bank = TemplateBank.build(
            {(lang, i, "-"): t for lang, d in phrases.BRAND_REPLIES.items() for i, t in d.items()}
        )
        self.clauses = ClauseBank.build()
        self.brand_account = np.full(len(PLATFORMS), -1)
        for a in np.flatnonzero(accounts.kind == BRAND):
            self.brand_account[accounts.platform[a]] = a
        prods = self.cat.products
        self.product_names = sarr([p.name for p in prods])
        self.company_names = sarr([self.cat.brand.name] + [c.name for c in self.cat.competitors])

    # -- names in text ---------------------------------------------------------------------
    def product_alias(self, product: np.ndarray) -> np.ndarray:
        rng = self.rng
        out = np.full(len(product), "", dtype=S)
        for i, p in enumerate(self.cat.products):
            m = product == i
            k = int(m.sum())
            if not k:
                continue
            names = (p.name, *p.aliases)
            w = np.array([0.3] + [0.7 / len(p.aliases)] * len(p.aliases))
            pick = rng.choice(len(names), k, p=w)
            out[m] = sarr(names)[pick]
        return out

    def company_alias(self, company: np.ndarray, platform: np.ndarray) -> np.ndarray:
        """``Nordlicht``, ``Nordlicht Outdoor`` or ``@nordlicht`` (the platform handle)."""
        rng = self.rng
        out = np.full(len(company), "", dtype=S)
        comps = (self.cat.brand, *self.cat.competitors)
        for ci, c in enumerate(comps):
            m = company == ci
            k = int(m.sum())
            if not k:
                continue
            names = sarr(c.aliases)[rng.integers(0, len(c.aliases), k)]
            handles = sarr([c.handles[p] for p in PLATFORMS])[platform[m]]
            at = np.where(rng.random(k) < 0.25, cat("@", handles), names)
            out[m] = at
        return out

    def thing(
        self, entity_kind: np.ndarray, product: np.ndarray, company: np.ndarray
    ) -> np.ndarray:
        """The ``{p}`` slot: a product alias, or a phrase for the company's gear."""
        rng = self.rng
        n = len(product)
        p_alias = self.product_alias(product)
        comps = (self.cat.brand, *self.cat.competitors)
        cname = sarr([c.name for c in comps])[company]
        gear = np.where(rng.random(n) < 0.6, cat(cname, " gear"), cat(cname, " stuff"))
        return np.where(entity_kind == 0, p_alias, gear).astype(S)


def mix(
    rng: np.random.Generator,
    groups: np.ndarray,
    table: Mapping[int, Sequence[float]] | Mapping[str, Sequence[float]],
    labels: tuple[str, ...],
) -> np.ndarray:
    out = np.full(len(groups), "", dtype=S)
    for g, p in table.items():
        m = groups == g
        k = int(m.sum())
        if k:
            out[m] = sarr(labels)[rng.choice(len(labels), k, p=np.array(p) / np.sum(p))]
    return out
