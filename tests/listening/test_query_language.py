"""The Boolean query language: parsing (precedence, phrases, hashtags, handles, errors
with positions, hostile input) and matching, one post at a time and vectorised."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pyarrow as pa
import pytest

from socialcrm.listening.query_language import (
    MAX_DEPTH,
    MAX_LENGTH,
    Query,
    QueryError,
    fold,
    match_table,
    parse,
)


@pytest.mark.parametrize(
    ("expr", "tree"),
    [
        ("a b", "(a AND b)"),
        ("a AND b OR c", "((a AND b) OR c)"),
        ("a OR b c", "(a OR (b AND c))"),
        ("a OR b AND c", "(a OR (b AND c))"),
        ("(a OR b) c", "((a OR b) AND c)"),
        ("NOT a b", "(NOT a AND b)"),
        ("NOT (a OR b)", "NOT (a OR b)"),
        ("a -b", "(a AND NOT b)"),
        ('a -"b c"', '(a AND NOT "b c")'),
        ('"Flat  White"', '"flat white"'),
        ("#Latte @Acme lang:EN", "(#latte AND @acme AND lang:en)"),
        ("e-mail", '"e mail"'),
        ("a and b", "(a AND and AND b)"),  # lower-case operators are words
        ("NOT NOT a", "NOT NOT a"),
        ("a-b", '"a b"'),
        ("@alice@mastodon.social", "@alice@mastodon.social"),
        ("@bob.bsky.social.", "@bob.bsky.social"),
    ],
)
def test_precedence_and_terms(expr: str, tree: str) -> None:
    assert str(parse(expr)) == tree


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "the expression is empty"),
        ("   ", "the expression is empty"),
        ("coffee AND", "the expression ends after AND: a term is missing at position 11"),
        ("coffee AND (tea", "this parenthesis is never closed at position 12"),
        ("coffee)", "this closing parenthesis has no opening one at position 7"),
        ('coffee "flat white', "this quote is never closed at position 8"),
        ("OR tea", "OR needs a term before it at position 1"),
        ("tea OR OR coffee", "OR needs a term before it at position 8"),
        ("tea ()", "these parentheses are empty at position 5"),
        ("tea #", "a hashtag is # and letters, digits or underscores; '#' is not at position 5"),
        ("#foo-bar", "'#foo-bar' is not at position 1"),
        ("@", "is not a handle"),
        ('""', "this quoted phrase has no words in it at position 1"),
        ("tea !!!", "'!!!' has no letters or digits to search for at position 5"),
        ("lang:english", "write a language code such as lang:en"),
        ("--tea", "a term cannot start with two minus signs at position 2"),
    ],
)
def test_errors_name_the_position_in_plain_words(expr: str, message: str) -> None:
    with pytest.raises(QueryError) as e:
        parse(expr)
    assert message in str(e.value)


def test_hostile_input_is_a_clear_error_not_a_crash() -> None:
    deep = "(" * 4_000 + "a" + ")" * 4_000
    with pytest.raises(QueryError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse(deep)
    with pytest.raises(QueryError, match="nested more than"):
        parse("NOT " * 2_000 + "a")
    with pytest.raises(QueryError, match="the most is 10,000"):
        parse("(" * 10_000 + "a" + ")" * 10_000)
    with pytest.raises(QueryError, match=f"the most is {MAX_LENGTH:,}"):
        parse("coffee OR " * 100_000 + "tea")  # a megabyte
    with pytest.raises(QueryError, match="terms; the most is"):
        parse(" OR ".join(f"w{i}" for i in range(1_000)))
    with pytest.raises(QueryError, match="must be text"):
        parse(None)  # type: ignore[arg-type]
    nested = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse(nested).matches("a")


@pytest.mark.parametrize(
    ("expr", "text", "expected"),
    [
        ("cat", "The CAT sat", True),
        ("cat", "category", False),  # whole words only
        ("cat", "a cat's toy", True),
        ("cafe", "Café crème", True),  # accents folded
        ("CAFÉ", "cafe", True),
        ("ﬁsh", "fish", True),  # compatibility forms folded
        ("straße", "STRASSE", False),
        ('"flat white"', "a Flat-White please", True),
        ('"flat white"', "a flat iced white", False),
        ("coffee", "#coffee time", True),  # a word finds a hashtag
        ("#coffee", "coffee time", False),  # a hashtag finds the hashtag only
        ("#coffee", "love #Coffee!", True),
        ("#coffee", "#coffeeshop", False),
        ("#coffee", "x#coffee", False),
        ("@acme", "thanks @ACME for this", True),
        ("@acme", "mail me at bob@acme.com", False),
        ("@acme", "@acme.", True),
        ("@acme", "@acme-co is not acme", False),
        ("@acme", "@acme@mastodon.social hi", True),
        ("@acme.bsky.social", "cc @acme.bsky.social", True),
        ("@acme.bsky.social", "cc @acme", False),
        ("coffee -decaf", "coffee, not decaf", False),
        ("coffee -decaf", "coffee please", True),
        ("NOT decaf", "", True),
        ("tea OR coffee", "green TEA", True),
        ("日本", "日本 の コーヒー", True),
        ("кофе", "Кофе!", True),
        ("under_score", "an under_score word", True),
        ("under", "an under_score word", False),
    ],
)
def test_matches(expr: str, text: str, expected: bool) -> None:
    assert parse(expr).matches(text) is expected


def test_handles_match_the_author_and_language_filters() -> None:
    q = parse("@acme")
    assert q.matches("no mention", author="acme")
    assert q.matches("no mention", author="@Acme")
    assert q.matches("no mention", author="acme@mastodon.social")
    assert not q.matches("no mention", author="acmeco")
    assert not q.matches("no mention")
    en = parse("coffee", lang="en")
    assert en.matches("coffee", lang="en") and en.matches("coffee", lang="en-GB")
    assert not en.matches("coffee", lang="de") and not en.matches("coffee")
    assert parse("coffee lang:de").matches("coffee", lang="de")
    assert not parse("coffee lang:de").matches("coffee", lang="en")


def test_search_terms_are_the_positive_terms() -> None:
    q = parse('(coffee OR "flat white") -decaf NOT (tea -green) #latte @acme lang:en')
    # "green" is excluded from an exclusion: positive, so a source may ask for it
    assert q.search_terms() == ["coffee", '"flat white"', "green", "#latte", "@acme"]
    assert parse("NOT spam").search_terms() == []


def test_fold() -> None:
    assert fold("Crème Brûlée ＡＢＣ") == "creme brulee abc"


# -- the vectorised matcher equals matches() ------------------------------------------------
@dataclass(frozen=True)
class Named:
    name: str
    expr: str
    lang: str | None = None

    def query(self) -> Query:
        return parse(self.expr, lang=self.lang)


WORDS = ["coffee", "café", "Cafe", "tea", "decaf", "flat", "white", "latte", "price", "love",
         "hate", "acme", "bob", "x", "über", "naïve", "日本", "кофе", "under_score"]  # fmt: skip
GLUE = [" ", " ", " ", ", ", "! ", "-", ".", " #", " @", "@", "'", "\n", "#", " (", ") "]


def _corpus(rng: random.Random, n: int) -> pa.Table:
    texts, langs, authors = [], [], []
    for _ in range(n):
        k = rng.randint(0, 9)
        parts = []
        for _ in range(k):
            w = rng.choice(WORDS)
            parts.append(w.upper() if rng.random() < 0.1 else w)
            parts.append(rng.choice(GLUE))
        texts.append("".join(parts) if rng.random() > 0.02 else None)
        langs.append(rng.choice(["en", "en-GB", "de", "fr", None]))
        authors.append(rng.choice(["acme", "@Acme", "bob", "acme@mastodon.social", None, "zed"]))
    return pa.table({"post_id": [f"p{i}" for i in range(n)], "text": texts, "lang": langs,
                     "author_handle": authors})  # fmt: skip


def _queries(rng: random.Random, n: int) -> list[Named]:
    atoms = ["coffee", "cafe", "tea", "decaf", '"flat white"', '"white flat"', "#latte",
             "#coffee", "@acme", "@bob", "love", "hate", "x", "uber", "naive", "日本", "кофе",
             "under_score", "lang:en", "e-mail", "price"]  # fmt: skip

    def expr(depth: int) -> str:
        r = rng.random()
        if depth > 2 or r < 0.35:
            atom = rng.choice(atoms)
            return ("-" + atom) if rng.random() < 0.15 else atom
        if r < 0.5:
            return "NOT " + expr(depth + 1)
        op = rng.choice([" AND ", " OR ", " "])
        return "(" + op.join(expr(depth + 1) for _ in range(rng.randint(2, 3))) + ")"

    return [Named(f"q{i}", expr(0), rng.choice([None, None, "en", "de"])) for i in range(n)]


def test_match_table_equals_matches_on_a_random_corpus() -> None:
    rng = random.Random(19)
    posts = _corpus(rng, 3_000)
    queries = _queries(rng, 80)
    got = match_table(queries, posts)
    assert got.schema.names == ["post_id", "query"]
    found = set(zip(got.column("post_id").to_pylist(), got.column("query").to_pylist(),
                    strict=True))  # fmt: skip
    expected = set()
    rows = posts.to_pylist()
    for q in queries:
        parsed = q.query()
        for r in rows:
            if parsed.matches(r["text"] or "", lang=r["lang"], author=r["author_handle"]):
                expected.add((r["post_id"], q.name))
    assert len(expected) > 5_000  # the corpus exercises the queries
    assert found == expected
    # every query matched something and missed something: none is trivial
    per_query = {q for _, q in expected}
    assert len(per_query) >= 0.8 * len(queries)


def test_match_table_edges() -> None:
    empty = pa.table({"post_id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    assert match_table([Named("a", "coffee")], empty).num_rows == 0
    posts = pa.table({"post_id": ["1", "2"], "text": ["coffee", None]})
    assert match_table([], posts).num_rows == 0
    got = match_table([Named("a", "coffee"), Named("b", "NOT coffee"), Named("c", "@x")], posts)
    assert got.to_pylist() == [{"post_id": "1", "query": "a"}, {"post_id": "2", "query": "b"}]
    # no lang column: a language filter matches nothing
    assert match_table([Named("a", "coffee", "en")], posts).num_rows == 0
