"""Text normalisation and tokenisation for social posts, vectorised over Arrow arrays.

Posts carry signal in places a generic cleaner throws away: emoji and emoticons carry
sentiment, ``!!!`` carries intensity, ``#hashtags`` carry topics. Normalisation here
therefore only removes what identifies a person or a page (handles become ``@user``,
links become ``http``) and undoes encoding noise (HTML entities, odd whitespace); emoji
are kept and spaced out so that each one is a token.

The same normalisation feeds every model (lexicon, embeddings, TF-IDF, topics), and it
matches the way TweetEval was published (``@user`` for handles), so models trained on
TweetEval see the text they were trained on.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

# Pictographs, dingbats, symbols and flags; one token each. The variation selector and
# zero-width joiner that glue emoji sequences are dropped, so "❤️" is just "❤".
EMOJI_RANGES = (
    "\U0001f000-\U0001faff"  # mahjong .. symbols & pictographs extended-A
    "\u2600-\u27bf"  # misc symbols, dingbats
    "\u2b00-\u2bff"  # arrows, stars
    "\u2300-\u23ff"  # misc technical (⌚ ⏰ ⏳)
    "\u2190-\u21ff"  # arrows
    "\u3297\u3299\u00a9\u00ae\u203c\u2049\u2122\u2139"
)
EMOJI_CLASS = f"[{EMOJI_RANGES}]"
_EMOJI_RE = re.compile(EMOJI_CLASS)
_URL = r"(?:https?://|www\.)\S+"
_HANDLE = r"(?:^|(?:\s|\())@\w+"
_HTML_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'"}

_TOKEN_RE = re.compile(
    rf"(?:[#@]?\w[\w'’\-]*\w|[#@]?\w)|{EMOJI_CLASS}|(?:[:;=8][\-o\*']?[\)\]\(\[dDpP/\\|3])|[!?]",
    re.UNICODE,
)


def normalise_array(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Normalise a column of post texts (Arrow compute; no Python loop per post).

    Handles become ``@user``, links ``http``, HTML entities are decoded, emoji are spaced
    out as tokens, and whitespace is collapsed. Nulls stay null.

    >>> normalise_array(pa.array(["Hi @Ann&amp;co 😍see https://x.co/a  !!"])).to_pylist()
    ['Hi @user&co 😍 see http !!']
    """
    out = texts
    for entity, char in _HTML_ENTITIES.items():
        out = pc.replace_substring(out, entity, char)
    out = pc.replace_substring_regex(out, "[\ufe0f\ufe0e\u200d]", " ")
    out = pc.replace_substring_regex(out, _URL, "http")
    out = pc.replace_substring_regex(out, r"(^|[\s(])@\w+(?:[.@]\w+)*", r"\1@user")
    out = pc.replace_substring_regex(out, f"({EMOJI_CLASS})", r" \1 ")
    out = pc.replace_substring_regex(out, r"\s+", " ")
    return pc.utf8_trim_whitespace(out)


def normalise(text: str) -> str:
    """Normalise one post text (the scalar form of :func:`normalise_array`).

    >>> normalise("Love it!!😍 thx @brand_uk https://t.co/xyz")
    'Love it!! 😍 thx @user http'
    """
    text = unicodedata.normalize("NFC", html.unescape(text))
    return str(normalise_array(pa.array([text], pa.string()))[0].as_py())


def tokens(text: str) -> list[str]:
    """Lower-cased word, hashtag, emoji, emoticon and ``!``/``?`` tokens of a normalised text.

    >>> tokens("Can't WAIT for #launch 😍 :) !")
    ["can't", 'wait', 'for', '#launch', '😍', ':)', '!']
    """
    return [t.lower() if len(t) > 2 or t[0] not in ":;=8" else t for t in _TOKEN_RE.findall(text)]


def words(text: str) -> list[str]:
    """Whitespace-separated words (word lists are written as one string, wrapped).

    >>> words("a b  c")
    ['a', 'b', 'c']
    """
    return text.split()


def iter_tokens(texts: Iterable[str]) -> Iterable[list[str]]:
    """:func:`tokens` over many texts."""
    return (tokens(t) for t in texts)


def skeleton(text: str) -> str:
    """The words of a post without case, links, handles, digits, punctuation or emoji.

    Copy-paste campaigns and retweets differ in exactly those, so posts with the same
    skeleton are counted as one.

    >>> skeleton("RT @ann: Win a FREE phone!!! https://t.co/1 #giveaway 🎉")
    'win a free phone giveaway'
    """
    return str(skeleton_array(pa.array([text], pa.string()))[0].as_py())


def skeleton_array(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """:func:`skeleton` over an Arrow column (Arrow compute).

    >>> skeleton_array(pa.array(["RT @ann: Win a FREE phone!!! https://t.co/1"])).to_pylist()
    ['win a free phone']
    """
    out = pc.utf8_lower(texts)
    out = pc.replace_substring_regex(out, _URL, " ")
    out = pc.replace_substring_regex(out, r"@\w+(?:[.@]\w+)*", " ")
    out = pc.replace_substring_regex(out, r"\brt\b", " ")
    out = pc.replace_substring_regex(out, r"[^\pL\pN\s]|\pN+|_", " ")
    out = pc.replace_substring_regex(out, r"\s+", " ")
    return pc.utf8_trim_whitespace(out)


def has_emoji(text: str) -> bool:
    """Whether the text holds at least one emoji.

    >>> has_emoji("great 👍"), has_emoji("great")
    (True, False)
    """
    return _EMOJI_RE.search(text) is not None


def as_list(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> list[str]:
    """Texts as a Python list of ``str`` (nulls become empty strings)."""
    if isinstance(texts, pa.Array | pa.ChunkedArray):
        return [t or "" for t in texts.to_pylist()]
    return [t if isinstance(t, str) else "" for t in texts]


def as_arrow(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Texts as an Arrow string column (nulls become empty strings)."""
    if isinstance(texts, pa.Array | pa.ChunkedArray):
        arr = texts if pa.types.is_string(texts.type) else texts.cast(pa.string())
    else:
        arr = pa.array(texts, pa.string())
    return pc.fill_null(arr, "")
