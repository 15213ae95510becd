"""Composing post texts: choose a template per post, fill its slots, add the noise.

Choice is vectorised (one random draw per post into flattened template and clause
tables); filling loops over slot names, not posts. The noise - capitals, typos,
hashtags, mentions, emoji - is what real posts look like and what a classifier must
see through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from socialcrm.synth import phrases
from socialcrm.synth.strings import S, cat, sarr, slot_names, typo

LANGS = ("en", "de", "fr", "es")
POLARITIES = ("pos", "neg", "ask", "neu")
ASPECTS = tuple(phrases.CLAUSES["en"])
_ASPECT_INDEX = {a: i for i, a in enumerate(ASPECTS)}


@dataclass
class TemplateBank:
    """Templates flattened into arrays, grouped by (lang, intent, sentiment)."""

    text: np.ndarray
    sarcastic: np.ndarray
    slots: dict[str, np.ndarray]
    """Per slot name: which templates contain it."""
    groups: dict[tuple[str, str, str], tuple[int, int]]

    @classmethod
    def build(cls, table: Mapping[tuple[str, str, str], Sequence[str]]) -> TemplateBank:
        texts: list[str] = []
        sarcastic: list[bool] = []
        groups: dict[tuple[str, str, str], tuple[int, int]] = {}
        for key, templates in table.items():
            groups[key] = (len(texts), len(templates))
            for t in templates:
                sarcastic.append(t.startswith("~"))
                texts.append(t.removeprefix("~"))
        names = sorted({s for t in texts for s in slot_names(t)})
        slots = {s: np.array([("{" + s + "}") in t for t in texts]) for s in names}
        return cls(sarr(texts), np.array(sarcastic), slots, groups)

    def has(self, lang: np.ndarray, intent: np.ndarray, sentiment: np.ndarray) -> np.ndarray:
        rows, inverse = _distinct_rows(lang, intent, sentiment)
        out: np.ndarray = np.array([tuple(map(str, r)) in self.groups for r in rows], bool)[inverse]
        return out

    def choose(
        self, rng: np.random.Generator, lang: np.ndarray, intent: np.ndarray, sentiment: np.ndarray
    ) -> np.ndarray:
        """A template index per post; every (lang, intent, sentiment) must exist."""
        rows, inverse = _distinct_rows(lang, intent, sentiment)
        start = np.array([self.groups[(str(a), str(b), str(c))][0] for a, b, c in rows])
        count = np.array([self.groups[(str(a), str(b), str(c))][1] for a, b, c in rows])
        u = rng.random(len(lang))
        out: np.ndarray = start[inverse] + np.minimum(
            (u * count[inverse]).astype(np.int64), count[inverse] - 1
        )
        return out


def _distinct_rows(*cols: np.ndarray) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Distinct combinations of a few low-cardinality string columns, and the inverse."""
    codes = []
    uniques = []
    for c in cols:
        u, inv = np.unique(np.asarray(c, dtype=object).astype(str), return_inverse=True)
        uniques.append(u)
        codes.append(inv)
    key = np.zeros(len(cols[0]), np.int64)
    for u, c in zip(uniques, codes, strict=True):
        key = key * len(u) + c
    distinct, inverse = np.unique(key, return_inverse=True)
    rows = []
    for k in distinct:
        parts = []
        for u in reversed(uniques):
            parts.append(u[k % len(u)])
            k //= len(u)
        rows.append(tuple(reversed(parts)))
    return rows, inverse


@dataclass
class ClauseBank:
    text: np.ndarray
    start: np.ndarray
    count: np.ndarray
    """Indexed by (lang, aspect, polarity) group; missing groups fall back to quality."""

    @classmethod
    def build(cls) -> ClauseBank:
        texts: list[str] = []
        n_groups = len(LANGS) * len(ASPECTS) * len(POLARITIES)
        start = np.zeros(n_groups, np.int64)
        count = np.zeros(n_groups, np.int64)
        for li, lang in enumerate(LANGS):
            for ai, aspect in enumerate(ASPECTS):
                for pi, pol in enumerate(POLARITIES):
                    src = phrases.CLAUSES[lang].get(aspect) or phrases.CLAUSES[lang]["quality"]
                    items = src.get(pol) or phrases.CLAUSES[lang]["quality"][pol]
                    g = (li * len(ASPECTS) + ai) * len(POLARITIES) + pi
                    start[g], count[g] = len(texts), len(items)
                    texts.extend(items)
        return cls(sarr(texts), start, count)

    def pick(
        self, rng: np.random.Generator, lang: np.ndarray, aspect: np.ndarray, polarity: str
    ) -> np.ndarray:
        li = lang_index(lang)
        ai = aspect_index(aspect)
        g = (li * len(ASPECTS) + ai) * len(POLARITIES) + POLARITIES.index(polarity)
        u = rng.random(len(g))
        out: np.ndarray = self.text[
            self.start[g] + np.minimum((u * self.count[g]).astype(np.int64), self.count[g] - 1)
        ]
        return out


def lang_index(lang: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lang), np.int64)
    for i, code in enumerate(LANGS):
        out[lang == code] = i
    return out


def aspect_index(aspect: np.ndarray) -> np.ndarray:
    out = np.full(len(aspect), _ASPECT_INDEX["quality"], np.int64)
    for a, i in _ASPECT_INDEX.items():
        out[aspect == a] = i
    return out


def supported_aspects(lang: str) -> tuple[str, ...]:
    return tuple(phrases.CLAUSES[lang])


def _choice(rng: np.random.Generator, options: Sequence[str], n: int) -> np.ndarray:
    return sarr(np.asarray(options, dtype=object)[rng.integers(0, len(options), n)])


@dataclass
class Slots:
    """Per-post values for the slots of a template."""

    lang: np.ndarray
    sentiment: np.ndarray
    aspect: np.ndarray
    aspect2: np.ndarray
    idea: np.ndarray
    p: np.ndarray
    b: np.ndarray
    c: np.ndarray
    extra: dict[str, np.ndarray] | None = None


def fill_templates(
    rng: np.random.Generator, bank: TemplateBank, clauses: ClauseBank, tidx: np.ndarray, s: Slots
) -> np.ndarray:
    """The texts of templates ``tidx`` with every slot filled."""
    text = bank.text[tidx].astype(S)
    sarcastic = bank.sarcastic[tidx]

    def apply(slot: str, values_for: Callable[[np.ndarray], np.ndarray]) -> None:
        if slot not in bank.slots:
            return
        m = bank.slots[slot][tidx]
        if m.any():
            text[m] = np.strings.replace(text[m], "{" + slot + "}", values_for(m))

    for pol in POLARITIES:

        def clause(m: np.ndarray, pol: str = pol) -> np.ndarray:
            return clauses.pick(rng, s.lang[m], s.aspect[m], pol)

        apply(pol, clause)
    apply("pos2", lambda m: clauses.pick(rng, s.lang[m], s.aspect2[m], "pos"))
    apply("neg2", lambda m: clauses.pick(rng, s.lang[m], s.aspect2[m], "neg"))
    apply("idea", lambda m: _idea_texts(s.lang[m], s.idea[m]))
    apply("cp", lambda m: _choice(rng, phrases.CLOSINGS["en"]["cp"], int(m.sum())))
    apply("cn", lambda m: _choice(rng, phrases.CLOSINGS["en"]["cn"], int(m.sum())))
    apply("t", lambda m: _choice(rng, phrases.TIMES["en"], int(m.sum())))
    apply("place", lambda m: _places(rng, s.lang[m]))
    apply("e", lambda m: emoji(rng, s.sentiment[m], sarcastic[m]))
    if s.extra:
        for name, values in s.extra.items():

            def given(m: np.ndarray, values: np.ndarray = values) -> np.ndarray:
                out: np.ndarray = values[m]
                return out

            apply(name, given)
    for name in ("p", "b", "c"):
        values = getattr(s, name)
        m = np.strings.find(text, "{" + name + "}") >= 0
        if m.any():
            text[m] = np.strings.replace(text[m], "{" + name + "}", values[m])
    return np.strings.strip(np.strings.replace(text, "  ", " ")).astype(S)


def _idea_texts(lang: np.ndarray, idea: np.ndarray) -> np.ndarray:
    out = np.full(len(idea), "", dtype=S)
    for key, _topic, _scope, texts in phrases.IDEAS:
        for code, t in texts.items():
            out[(idea == key) & (lang == code)] = t
    return out


def _places(rng: np.random.Generator, lang: np.ndarray) -> np.ndarray:
    out = np.full(len(lang), "", dtype=S)
    for code, places in phrases.PLACES.items():
        m = lang == code
        out[m] = _choice(rng, places, int(m.sum()))
    return out


def emoji(rng: np.random.Generator, sentiment: np.ndarray, sarcastic: np.ndarray) -> np.ndarray:
    """An emoji that usually, not always, matches the sentiment."""
    n = len(sentiment)
    out = np.full(n, "", dtype=S)
    noisy = rng.random(n) < 0.15
    for sent, options in phrases.EMOJI.items():
        if sent == "sarcastic":
            continue
        m = sentiment == sent
        out[m] = _choice(rng, options, int(m.sum()))
    out[noisy] = _choice(
        rng, phrases.EMOJI["neutral"] + phrases.EMOJI["positive"][:3], int(noisy.sum())
    )
    out[sarcastic] = _choice(rng, phrases.EMOJI["sarcastic"], int(sarcastic.sum()))
    return out


def add_noise(
    rng: np.random.Generator, text: np.ndarray, hashtags: np.ndarray, mention: np.ndarray
) -> np.ndarray:
    """Capitalise most posts, lower-case some, add typos, hashtags and @mentions."""
    n = len(text)
    first = np.strings.slice(text, 0, 1)
    rest = np.strings.slice(text, 1, None)
    r = rng.random(n)
    text = np.where(
        r < 0.7,
        cat(np.strings.upper(first), rest),
        np.where(r < 0.85, np.strings.lower(text), text),
    ).astype(S)
    slip = rng.random(n) < 0.06
    text[slip] = typo(rng, text[slip])
    tagged = hashtags != ""
    text = np.where(tagged, cat(text, " ", hashtags), text).astype(S)
    has_mention = mention != ""
    front = rng.random(n) < 0.6
    text = np.where(
        has_mention & front,
        cat(mention, " ", text),
        np.where(has_mention, cat(text, " ", mention), text),
    ).astype(S)
    return text
