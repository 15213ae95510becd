"""The demo brand's catalogue: brand, products, competitors, topics and communities.

It lives in ``catalogue.json`` so that listening (mention detection, topics) can reuse the
very names the synthetic posts were written with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    aliases: tuple[str, ...]
    hashtags: tuple[str, ...]
    category: str
    price_eur: float
    aspects: tuple[str, ...]


@dataclass(frozen=True)
class Company:
    """The brand or a competitor."""

    name: str
    aliases: tuple[str, ...]
    hashtags: tuple[str, ...]
    handles: dict[str, str]


@dataclass(frozen=True)
class Catalogue:
    brand: Company
    products: tuple[Product, ...]
    competitors: tuple[Company, ...]
    product_topics: tuple[str, ...]
    brand_topics: tuple[str, ...]
    communities: tuple[str, ...]


def _company(d: dict[str, Any]) -> Company:
    return Company(d["name"], tuple(d["aliases"]), tuple(d["hashtags"]), dict(d["handles"]))


@cache
def load_catalogue() -> Catalogue:
    """The catalogue shipped with the package (``socialcrm/synth/catalogue.json``)."""
    text = resources.files("socialcrm.synth").joinpath("catalogue.json").read_text("utf-8")
    d = json.loads(text)
    products = tuple(
        Product(
            p["id"],
            p["name"],
            tuple(p["aliases"]),
            tuple(p["hashtags"]),
            p["category"],
            float(p["price_eur"]),
            tuple(p["aspects"]),
        )
        for p in d["products"]
    )
    return Catalogue(
        brand=_company(d["brand"]),
        products=products,
        competitors=tuple(_company(c) for c in d["competitors"]),
        product_topics=tuple(d["topics"]["product"]),
        brand_topics=tuple(d["topics"]["brand"]),
        communities=tuple(d["communities"]),
    )
