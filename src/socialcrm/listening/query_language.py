"""A Boolean query language for saved listening queries, as in Brandwatch or Sprout.

    coffee AND (espresso OR "flat white") -decaf #latteart @acme lang:en

* ``AND``, ``OR``, ``NOT`` (upper case: lower-case ``and`` is a word), parentheses;
  adjacent terms are joined by AND; ``-term`` excludes; AND binds tighter than OR.
* A word matches a whole word, never part of one ("cat" does not match "category");
  a word with punctuation inside ("e-mail", "don't") is the phrase of its parts.
* ``"a quoted phrase"`` matches those words next to each other.
* ``#tag`` matches the hashtag ``#tag`` only; the word ``tag`` also matches ``#tag``.
* ``@handle`` matches a post by that author or one that mentions ``@handle``
  (``@alice`` also matches ``alice@other.instance``).
* ``lang:xx`` keeps posts in that language.

Matching ignores case and accents (``cafe`` matches ``Café``) and folds compatibility
forms (full-width letters, ligatures): text and terms are folded the same way (NFKD, marks
removed, lower case). Words are runs of letters, digits and underscores -- the same
tokens as SQLite FTS5's ``unicode61`` tokenizer with ``tokenchars '_'``, which is what
the benchmark checks against.

``match_table`` is the vectorised form: it tokenises the text column once with Arrow,
looks every distinct word up in one hash pass, and combines per-query boolean masks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import numpy.typing as npt

MAX_LENGTH = 10_000
"""The longest expression we parse: far above any real query, far below a hostile one."""
MAX_DEPTH = 50
"""The deepest nesting of parentheses and NOTs we accept (the parser recurses)."""
MAX_TERMS = 500

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
_LANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")
_HANDLE = re.compile(r"[\w][\w.\-]*(?:@[\w][\w.\-]*)?")
# Characters that end an unquoted term.
_STOP = set('()"') | {" ", "\t", "\n", "\r"}
# RE2 (Arrow) spelling of a non-word character, for the regexes run on the text column.
_NW = r"[^\pL\pN_]"


class QueryError(ValueError):
    """An expression we cannot read; the message names the position (1-based)."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.position = position
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}")


def fold(text: str) -> str:
    """Lower case, accents removed, compatibility forms folded: ``Café`` → ``cafe``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()


def fold_array(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """:func:`fold` over an Arrow string column, without a Python loop."""
    decomposed = pc.utf8_normalize(texts, form="NFKD")
    return pc.utf8_lower(pc.replace_substring_regex(decomposed, r"\p{Mn}+", ""))


def words(text: str) -> list[str]:
    """The folded word tokens of ``text``."""
    return _WORD.findall(fold(text))


# -- the tree ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """A leaf: ``kind`` is word, phrase, hashtag, handle or lang; ``value`` folded."""

    kind: str
    value: str

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(_WORD.findall(self.value))

    def __str__(self) -> str:
        if self.kind == "phrase":
            return f'"{self.value}"'
        prefix = {"hashtag": "#", "handle": "@", "lang": "lang:"}.get(self.kind, "")
        return prefix + self.value


@dataclass(frozen=True)
class Not:
    child: Node

    def __str__(self) -> str:
        return f"NOT {self.child}"


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")"


Node = Term | Not | And | Or


class _Post(Protocol):
    def has(self, term: Term) -> bool: ...


@dataclass(frozen=True)
class _OnePost:
    """One post, folded once, for :meth:`Query.matches`."""

    folded: str
    tokens: tuple[str, ...]
    lang: str | None
    author: str | None

    def has(self, term: Term) -> bool:
        return _term_matches(term, self)


def _contains_run(tokens: Sequence[str], run: Sequence[str]) -> bool:
    n = len(run)
    if n == 0:
        return False
    return any(tuple(tokens[i : i + n]) == tuple(run) for i in range(len(tokens) - n + 1))


def _author_is(author: str | None, handle: str) -> bool:
    if not author:
        return False
    a = fold(author).lstrip("@")
    return a == handle or a.startswith(handle + "@")


def _hashtag_re(tag: str) -> str:
    return rf"(?<!\w)#{re.escape(tag)}(?!\w)"


def _mention_re(handle: str) -> str:
    return rf"(?<!\w)@{re.escape(handle)}(?![\w\-]|\.\w)"


def _term_matches(term: Term, post: _OnePost) -> bool:
    if term.kind in ("word", "phrase"):
        return _contains_run(post.tokens, term.tokens)
    if term.kind == "hashtag":
        return re.search(_hashtag_re(term.value), post.folded) is not None
    if term.kind == "handle":
        if _author_is(post.author, term.value):
            return True
        return re.search(_mention_re(term.value), post.folded) is not None
    if term.kind == "lang":
        return _lang_is(post.lang, term.value)
    raise AssertionError(term.kind)


def _lang_is(lang: str | None, wanted: str) -> bool:
    if not lang:
        return False
    lang = lang.lower()
    return lang == wanted or lang.startswith(wanted + "-")


def _evaluate(node: Node, post: _Post) -> bool:
    if isinstance(node, Term):
        return post.has(node)
    if isinstance(node, Not):
        return not _evaluate(node.child, post)
    if isinstance(node, And):
        return all(_evaluate(c, post) for c in node.children)
    return any(_evaluate(c, post) for c in node.children)


@dataclass(frozen=True)
class Query:
    """A parsed expression; ``lang`` (from the saved query) keeps one language."""

    root: Node
    expr: str
    lang: str | None = None

    def matches(self, text: str, lang: str | None = None, author: str | None = None) -> bool:
        """Whether a post with this text, language and author matches.

        >>> parse('coffee -decaf').matches("Best Coffee in town")
        True
        >>> parse('coffee -decaf').matches("decaf coffee")
        False
        """
        if self.lang is not None and not _lang_is(lang, self.lang):
            return False
        folded = fold(text or "")
        post = _OnePost(folded, tuple(_WORD.findall(folded)), lang, author)
        return _evaluate(self.root, post)

    def terms(self) -> list[Term]:
        """Every distinct leaf, in order of appearance."""
        seen: dict[Term, None] = {}
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, Term):
                seen.setdefault(node, None)
            elif isinstance(node, Not):
                stack.append(node.child)
            else:
                stack.extend(reversed(node.children))
        return list(seen)

    def search_terms(self) -> list[str]:
        """The positive words, phrases, hashtags and handles, as a network's search wants
        them (``coffee``, ``"flat white"``, ``#latteart``, ``@acme``): ask the server for
        candidates with these, then keep the posts :meth:`matches` accepts.

        >>> parse('coffee OR "flat white" -decaf #latteart').search_terms()
        ['coffee', '"flat white"', '#latteart']
        """
        out: dict[str, None] = {}

        def walk(node: Node, positive: bool) -> None:
            if isinstance(node, Term):
                if positive and node.kind != "lang":
                    out.setdefault(str(node), None)
            elif isinstance(node, Not):
                walk(node.child, not positive)
            else:
                for c in node.children:
                    walk(c, positive)

        walk(self.root, True)
        return list(out)

    def __str__(self) -> str:
        return str(self.root)


# -- the parser -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tok:
    kind: str  # ( ) AND OR NOT - term
    pos: int
    term: Term | None = None


def _tokenise(expr: str) -> Iterator[_Tok]:
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c in "()":
            yield _Tok(c, i)
            i += 1
        elif c == '"':
            end = expr.find('"', i + 1)
            if end < 0:
                raise QueryError("this quote is never closed", i)
            phrase = " ".join(words(expr[i + 1 : end]))
            if not phrase:
                raise QueryError("this quoted phrase has no words in it", i)
            yield _Tok("term", i, Term("phrase", phrase))
            i = end + 1
        else:
            start = i
            if c == "-" and i + 1 < n and not expr[i + 1].isspace() and expr[i + 1] != ")":
                # -term, -"a phrase", -(a group): leave it out
                yield _Tok("-", i)
                i += 1
                if expr[i] == "-":
                    raise QueryError("a term cannot start with two minus signs", i)
                if expr[i] in '"(':
                    continue
                start = i
            while i < n and expr[i] not in _STOP:
                i += 1
            raw = expr[start:i]
            if raw in ("AND", "OR", "NOT"):
                yield _Tok(raw, start)
            else:
                yield _Tok("term", start, _term(raw, start))


def _term(raw: str, pos: int) -> Term:
    if raw.startswith("#"):
        tag = fold(raw[1:])
        if not re.fullmatch(r"\w+", tag):
            raise QueryError(
                f"a hashtag is # and letters, digits or underscores; {raw!r} is not", pos
            )
        return Term("hashtag", tag)
    if raw.startswith("@"):
        handle = fold(raw[1:]).rstrip(".")
        if not _HANDLE.fullmatch(handle):
            raise QueryError(f"{raw!r} is not a handle (write @name or @name@instance)", pos)
        return Term("handle", handle)
    if raw.lower().startswith("lang:"):
        code = raw[5:].lower()
        if not _LANG.fullmatch(code):
            raise QueryError(f"{raw!r}: write a language code such as lang:en", pos)
        return Term("lang", code)
    parts = words(raw)
    if not parts:
        raise QueryError(f"{raw!r} has no letters or digits to search for", pos)
    return Term("word" if len(parts) == 1 else "phrase", " ".join(parts))


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = list(_tokenise(expr))
        self.i = 0
        self.depth = 0
        terms = sum(1 for t in self.toks if t.kind == "term")
        if terms > MAX_TERMS:
            raise QueryError(f"the expression has {terms} terms; the most is {MAX_TERMS}")

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            raise QueryError("the expression is empty: write at least one word")
        node = self.or_expr()
        tok = self.peek()
        if tok is not None:
            if tok.kind == ")":
                raise QueryError("this closing parenthesis has no opening one", tok.pos)
            raise QueryError(f"unexpected {tok.kind}", tok.pos)  # pragma: no cover
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", ")"):
            if tok.kind == "AND":
                self.take()
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            end = len(self.expr)
            prev = self.toks[self.i - 1].kind if self.i else ""
            raise QueryError(f"the expression ends after {prev}: a term is missing", end)
        if tok.kind in ("NOT", "-"):
            self.take()
            self.enter(tok)
            child = self.unary() if tok.kind == "NOT" else self.primary()
            self.depth -= 1
            return Not(child)
        return self.primary()

    def enter(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"nested more than {MAX_DEPTH} levels deep", tok.pos)

    def primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("a term is missing at the end", len(self.expr))
        if tok.kind == "term":
            self.take()
            assert tok.term is not None
            return tok.term
        if tok.kind == "(":
            self.take()
            self.enter(tok)
            nxt = self.peek()
            if nxt is not None and nxt.kind == ")":
                raise QueryError("these parentheses are empty", tok.pos)
            node = self.or_expr()
            close = self.peek()
            if close is None or close.kind != ")":
                raise QueryError("this parenthesis is never closed", tok.pos)
            self.take()
            self.depth -= 1
            return node
        if tok.kind == ")":
            raise QueryError("a term is missing before this closing parenthesis", tok.pos)
        raise QueryError(f"{tok.kind} needs a term before it", tok.pos)


def parse(expr: str, lang: str | None = None) -> Query:
    """Read an expression; :class:`QueryError` names what is wrong and where.

    >>> str(parse('coffee OR tea -decaf'))
    '(coffee OR (tea AND NOT decaf))'
    >>> parse('coffee AND (tea')
    Traceback (most recent call last):
    ...
    socialcrm.listening.query_language.QueryError: this parenthesis is never closed at position 12
    """
    if not isinstance(expr, str):
        raise QueryError("the expression must be text")
    if len(expr) > MAX_LENGTH:
        raise QueryError(f"the expression has {len(expr):,} characters; the most is {MAX_LENGTH:,}")
    if lang is not None:
        lang = lang.strip().lower() or None
        if lang is not None and not _LANG.fullmatch(lang):
            raise QueryError(f"{lang!r} is not a language code (such as en or pt-br)")
    return Query(_Parser(expr).parse(), expr, lang)


# -- the vectorised matcher -------------------------------------------------------------------
class NamedQuery(Protocol):
    """What :func:`match_table` needs of a saved query."""

    @property
    def name(self) -> str: ...

    def query(self) -> Query: ...


MATCH_SCHEMA = pa.schema(
    [pa.field("post_id", pa.string(), nullable=False), pa.field("query", pa.string(), False)]
)


class _Columns:
    """The post table folded and tokenised once; a boolean mask per term on demand."""

    def __init__(self, posts: pa.Table) -> None:
        self.n = posts.num_rows
        text = posts.column("text").combine_chunks() if self.n else pa.array([], pa.string())
        self.folded = fold_array(pc.fill_null(text, ""))
        self.flat, self.parents = tokenise_column(self.folded)
        self.lang = _optional(posts, "lang")
        author = _optional(posts, "author_handle")
        if author is None:
            author = _optional(posts, "author")
        self.author = None if author is None else fold_array(pc.fill_null(author, ""))
        self.ids: npt.NDArray[np.int64] = np.full(len(self.flat), -1, dtype=np.int64)
        self.order: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.sorted_ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.vocab: dict[str, int] = {}
        self.cache: dict[Term, npt.NDArray[np.bool_]] = {}

    def index(self, vocab: Sequence[str]) -> None:
        """Look every word the queries use up in one hash pass over all tokens."""
        self.vocab = {w: i for i, w in enumerate(vocab)}
        if len(self.flat):
            found = pc.index_in(self.flat, value_set=pa.array(vocab, pa.string()))
            self.ids = pc.fill_null(found, -1).to_numpy().astype(np.int64)
        # the positions of the known tokens, grouped by word: a word's are one slice
        known = np.flatnonzero(self.ids >= 0)
        self.order = known[np.argsort(self.ids[known], kind="stable")]
        self.sorted_ids = self.ids[self.order]

    def positions(self, token: str) -> npt.NDArray[np.int64]:
        """Where ``token`` stands in the flattened token column, in order."""
        i = self.vocab.get(token, -2)
        lo, hi = np.searchsorted(self.sorted_ids, [i, i + 1])
        found: npt.NDArray[np.int64] = self.order[lo:hi]
        return found

    def rows_with(self, token: str) -> npt.NDArray[np.int64]:
        rows: npt.NDArray[np.int64] = self.parents[self.positions(token)]
        return rows

    def mask(self, term: Term) -> npt.NDArray[np.bool_]:
        cached = self.cache.get(term)
        if cached is not None:
            return cached
        out = np.zeros(self.n, dtype=bool)
        if term.kind in ("word", "phrase"):
            toks = term.tokens
            positions = self.positions(toks[0])
            for k, tok in enumerate(toks[1:], start=1):
                positions = positions[positions + k < len(self.ids)]
                nxt = positions + k
                same = (self.ids[nxt] == self.vocab.get(tok, -2)) & (
                    self.parents[nxt] == self.parents[positions]
                )
                positions = positions[same]
            out[self.parents[positions]] = True
        elif term.kind in ("hashtag", "handle"):
            # The regex runs only on the posts that hold the term's first word.
            first = term.tokens[0] if term.tokens else ""
            rows = np.unique(self.rows_with(first))
            if len(rows):
                subset = pc.take(self.folded, pa.array(rows))
                pattern = (
                    rf"(?:^|{_NW})#{re.escape(term.value)}(?:{_NW}|$)"
                    if term.kind == "hashtag"
                    else rf"(?:^|{_NW})@{re.escape(term.value)}(?:$|[^\pL\pN_.\-]|\.(?:{_NW}|$))"
                )
                hit = pc.match_substring_regex(subset, pattern).to_numpy(zero_copy_only=False)
                out[rows[hit]] = True
            if term.kind == "handle" and self.author is not None:
                a = pc.utf8_ltrim(self.author, "@")
                by = pc.or_(pc.equal(a, term.value), pc.starts_with(a, term.value + "@"))
                out |= pc.fill_null(by, False).to_numpy(zero_copy_only=False)
        else:  # lang
            out = _lang_mask(self.lang, term.value, self.n)
        self.cache[term] = out
        return out

    def evaluate(self, node: Node) -> npt.NDArray[np.bool_]:
        if isinstance(node, Term):
            return self.mask(node)
        if isinstance(node, Not):
            return ~self.evaluate(node.child)
        masks = [self.evaluate(c) for c in node.children]
        out = masks[0].copy()
        for m in masks[1:]:
            if isinstance(node, And):
                out &= m
            else:
                out |= m
        return out


_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _WORD_BYTE[_c] = True


def tokenise_column(folded: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """The word tokens of a folded text column, in order, and the row of each.

    Texts that are all ASCII (most posts, once folded) are cut with numpy over the bytes;
    the others with a Unicode regex. Each row's tokens stay together and in order (what
    phrases need); rows may come in any order.
    """
    is_ascii = pc.fill_null(pc.string_is_ascii(folded), True).to_numpy(zero_copy_only=False)
    rows = np.arange(len(folded), dtype=np.int64)
    flats, parents = [], []
    if is_ascii.any():
        asc = folded.filter(pa.array(is_ascii)) if not is_ascii.all() else folded
        tokens, at = _ascii_tokens(asc)
        flats.append(tokens)
        parents.append(rows[is_ascii][at])
    if not is_ascii.all():
        other = folded.filter(pa.array(~is_ascii))
        lists = pc.split_pattern_regex(other, _NW + "+")
        flat = pc.list_flatten(lists)
        keep = pc.not_equal(flat, "")
        at = pc.list_parent_indices(lists).to_numpy()[keep.to_numpy(zero_copy_only=False)]
        flats.append(pc.filter(flat, keep))
        parents.append(rows[~is_ascii][at])
    if not flats:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int64)
    flat_all = pa.concat_arrays([f.cast(pa.string()) for f in flats])
    return flat_all, np.concatenate(parents).astype(np.int64)


def _ascii_tokens(texts: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """Runs of ``[0-9a-z_]`` of ASCII texts, cut over the string column's bytes, and the
    position of each token's text; a token never runs from one text into the next."""
    texts = texts.cast(pa.string())
    _, offsets_buf, data_buf = texts.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[
        texts.offset : texts.offset + len(texts) + 1
    ]
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)[lo:hi]
        if data_buf is not None
        else np.zeros(0, np.uint8)
    )
    n = len(data)
    if n == 0:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int64)
    word = _WORD_BYTE[data]
    starts_of_texts = offsets[:-1].astype(np.int64) - lo
    ends_of_texts = offsets[1:].astype(np.int64) - lo
    prev = np.empty(n, dtype=bool)
    prev[0] = False
    prev[1:] = word[:-1]
    prev[starts_of_texts[starts_of_texts < n]] = False
    nxt = np.empty(n, dtype=bool)
    nxt[-1] = False
    nxt[:-1] = word[1:]
    last = ends_of_texts - 1
    nxt[last[(last >= 0) & (last < n)]] = False
    starts = np.flatnonzero(word & ~prev)
    ends = np.flatnonzero(word & ~nxt) + 1
    new_offsets = np.zeros(len(starts) + 1, dtype=np.int32)
    np.cumsum(ends - starts, out=new_offsets[1:])
    tokens = pa.StringArray.from_buffers(
        len(starts), pa.py_buffer(new_offsets), pa.py_buffer(np.ascontiguousarray(data[word]))
    )
    at = np.searchsorted(starts_of_texts, starts, side="right") - 1
    return tokens, at.astype(np.int64)


def _optional(posts: pa.Table, name: str) -> pa.Array | None:
    if name not in posts.column_names:
        return None
    col = posts.column(name)
    return col.combine_chunks() if posts.num_rows else pa.array([], col.type)


def _lang_mask(lang: pa.Array | None, wanted: str, n: int) -> npt.NDArray[np.bool_]:
    if lang is None:
        return np.zeros(n, dtype=bool)
    low = pc.utf8_lower(lang)
    hit = pc.or_(pc.equal(low, wanted), pc.starts_with(low, wanted + "-"))
    mask: npt.NDArray[np.bool_] = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    return mask


def match_table(queries: Sequence[NamedQuery], posts: pa.Table) -> pa.Table:
    """``post_id``, ``query``: one row per post and saved query it matches.

    ``posts`` needs ``post_id`` and ``text``; ``lang`` and ``author_handle`` (or
    ``author``) are used where present. Equal to calling :meth:`Query.matches` on every
    post, a few hundred times faster (``benchmarks/listening_queries.py``).
    """
    parsed = [(q.name, q.query()) for q in queries]
    if not parsed or posts.num_rows == 0:
        return MATCH_SCHEMA.empty_table()
    cols = _Columns(posts)
    vocab: dict[str, None] = {}
    for _, q in parsed:
        for term in q.terms():
            for tok in term.tokens:
                vocab.setdefault(tok, None)
    cols.index(list(vocab))
    post_ids = posts.column("post_id").combine_chunks()
    parts = []
    for name, q in parsed:
        mask = cols.evaluate(q.root)
        if q.lang is not None:  # (not in place: ``mask`` may be a cached term's)
            mask = mask & _lang_mask(cols.lang, q.lang, cols.n)
        rows = np.flatnonzero(mask)
        if len(rows):
            parts.append(
                pa.table(
                    {
                        "post_id": pc.take(post_ids, pa.array(rows)).cast(pa.string()),
                        "query": pa.array([name] * len(rows), pa.string()),
                    }
                )
            )
    if not parts:
        return MATCH_SCHEMA.empty_table()
    return pa.concat_tables(parts).cast(MATCH_SCHEMA)
