"""A rule-based sentiment analyzer in the manner of VADER, vectorised over Arrow and numpy.

VADER (Hutto & Gilbert 2014) sums the valence of lexicon words, adjusted by rules:
negation ("not good"), boosters and dampeners ("very", "kinda"), ALL-CAPS emphasis, the
contrastive "but", "least", and ``!``/``?`` emphasis; the sum is squashed to [-1, 1].
VADER applies those rules word by word in Python. Here every rule is an operation on
whole arrays of tokens: texts are split and looked up with Arrow compute kernels, and
each rule compares a token with the tokens one, two or three places before it in the
same post using shifted numpy arrays. There is no Python loop per post or per token,
so a batch of posts costs a handful of array operations.

Differences from VADER, on purpose: emoji are scored directly from their own valence
(VADER rewrites each emoji as its description), "but" scales the words around the
first "but" as VADER's paper says (VADER's code rescales by the first word of equal
value), and the thresholds between labels are chosen on TweetEval's training split
(see :data:`THRESHOLDS`) rather than fixed at ±0.05.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.listening.text import EMOJI_CLASS, as_arrow, words

B_INCR = 0.293
C_INCR = 0.733
N_SCALAR = -0.74
ALPHA = 15.0

NEGATE = words(
    "aint arent cannot cant couldnt darent didnt doesnt ain't aren't can't couldn't "
    "daren't didn't doesn't dont hadnt hasnt havent isnt mightnt mustnt neither don't "
    "hadn't hasn't haven't isn't mightn't mustn't neednt needn't never none nope nor not "
    "nothing nowhere oughtnt shant shouldnt uhuh wasnt werent oughtn't shan't shouldn't "
    "uh-uh wasn't weren't without wont wouldnt won't wouldn't rarely seldom despite"
)

_BOOST_UP = words(
    "absolutely amazingly awfully completely considerable considerably decidedly deeply "
    "effing enormous enormously entirely especially exceptional exceptionally extreme "
    "extremely fabulously flipping flippin frackin fracking fricking frickin frigging "
    "friggin fully fuckin fucking fuggin fugging greatly hella highly hugely incredible "
    "incredibly intensely major majorly more most particularly purely quite really "
    "remarkably so substantially thoroughly total totally tremendous tremendously uber "
    "unbelievably unusually utter utterly very"
)
_BOOST_DOWN = words(
    "almost barely hardly kinda kindof kind-of less little marginal marginally occasional "
    "occasionally partly scarce scarcely slight slightly somewhat sorta sortof sort-of"
)
BOOSTERS = {**dict.fromkeys(_BOOST_UP, B_INCR), **dict.fromkeys(_BOOST_DOWN, -B_INCR)}

CONTRAST_WEIGHTS = (0.5, 1.5)
"""Weights of the words before and after a contrast ("but", "however"): VADER's."""

NEGATED_ONLY = dict.fromkeys(words("arrived arrive fixed working delivered"), -1.5)
"""Words without a valence that read as a complaint when negated, with that valence.

"still hasn't arrived", "not fixed", "isn't working": a product or a service failing.
Negated within three words, as VADER's negation reaches. Only words that, in TweetEval's
training tweets, were complaints more often than not when negated ("I don't work
Friday", "won't reply till Thursday" are not: those words stay out).
"""

PHRASES: dict[tuple[str, ...], float] = {
    ("never", "again"): -1.5,
    ("please", "fix"): -1.5,
    ("doesn't", "work"): -1.5,
    ("doesnt", "work"): -1.5,
    ("didn't", "work"): -1.5,
    ("won't", "work"): -1.2,
    ("stopped", "working"): -1.5,
    ("thanks", "for", "nothing"): -2.0,
    ("nothing", "special"): -1.3,
    ("waste", "of", "money"): -2.5,
    ("waste", "of", "time"): -2.5,
}
"""Word sequences scored as a whole: the last word takes the valence, the others none."""

SARCASM_EMOJI = ("\U0001f612", "\U0001f644", "\U0001f643")
"""😒 🙄 🙃: said after praise they mean the opposite ("Love that for me 😒")."""
SARCASM_PHRASES = (("love", "that", "for", "me"), ("yeah", "right"),
                   ("thanks", "for", "nothing"), ("so", "glad", "i", "paid"))  # fmt: skip
"""Formulas that are sarcastic wherever they stand."""
SARCASM_IF_NEGATIVE = (("thanks", "a", "lot"), ("oh", "great"), ("just", "great"),
                       ("just", "what", "i", "needed"))  # fmt: skip
"""Formulas that are sarcastic in a post that also says something negative ("another
delay, just what I needed"); on their own they are as often sincere (TweetEval train)."""

# Words the rules look at by name; index_in gives each a small integer code.
_SPECIAL = ("no", "or", "nor", "but", "least", "at", "very", "never", "so", "this",
            "without", "doubt", "kind", "of", "however")  # fmt: skip
_CODE = {w: i for i, w in enumerate(_SPECIAL)}

LABELS = np.array(["negative", "neutral", "positive"], dtype=object)
"""Label names by class index (TweetEval's order: 0 negative, 1 neutral, 2 positive)."""

THRESHOLDS = (0.0, 0.37)
"""Compound score below the first is negative, above the second positive.

Chosen by ``scripts/train_sentiment_head.py`` to maximise macro-averaged recall on the
TweetEval training split (VADER's own are ±0.05): on tweets, a faintly positive word
("like", "lol", "please") is more often in a neutral post than in a positive one.
"""


@dataclass(frozen=True)
class LexiconScores:
    """Per-post outputs of the rules, before labelling."""

    compound: np.ndarray
    """VADER-style compound score in [-1, 1]."""
    positive: np.ndarray
    """Sum of positive valences (each +1, as VADER counts them)."""
    negative: np.ndarray
    """Sum of negative valences (each -1, as VADER counts them); not above 0."""
    tokens: np.ndarray
    """Number of tokens."""
    sarcastic: np.ndarray | None = None
    """Whether a sarcasm cue was found (``None`` where not computed)."""


@cache
def load_lexicon() -> tuple[pa.Array, np.ndarray]:
    """The shipped lexicon: tokens (Arrow, for lookups) and their valences.

    >>> words, valences = load_lexicon()
    >>> float(valences[words.index("good").as_py()])
    1.9
    """
    text = files("socialcrm.listening").joinpath("data/sentiment_lexicon.tsv").read_text("utf-8")
    words, values = [], []
    for line in text.splitlines():
        if not line or line.startswith("# "):
            continue
        word, value = line.split("\t")
        words.append(word)
        values.append(float(value))
    return pa.array(words, pa.string()), np.asarray(values, dtype=np.float64)


def _shift(a: np.ndarray, d: int, pos: np.ndarray, fill: object) -> np.ndarray:
    """``a`` moved ``d`` tokens later, with ``fill`` where that crosses a post's start."""
    out = np.empty_like(a)
    out[:d] = fill
    out[d:] = a[:-d] if d else a
    out[pos < d] = fill
    return out


def _shift_back(a: np.ndarray, d: int, pos: np.ndarray, lens: np.ndarray,
                doc: np.ndarray) -> np.ndarray:  # fmt: skip
    """``a`` moved ``d`` tokens earlier, False where that crosses a post's end."""
    out = np.zeros_like(a)
    if d == 0:
        return a.copy()
    out[:-d] = a[d:]
    out[pos + d >= lens[doc]] = False
    return out


def _phrase_ends(
    lower: pa.Array, phrases: list[tuple[str, ...]], pos: np.ndarray
) -> dict[tuple[str, ...], np.ndarray]:
    """For each phrase, a mask of the tokens that end an occurrence of it in a post."""
    vocab = sorted({w for p in phrases for w in p})
    code = np.asarray(pc.index_in(lower, value_set=pa.array(vocab)).fill_null(-1))
    index = {w: i for i, w in enumerate(vocab)}
    out = {}
    for phrase in phrases:
        k = len(phrase)
        end = np.ones(len(code), dtype=bool)
        for j, w in enumerate(phrase):
            end &= _shift(code == index[w], k - 1 - j, pos, False)
        out[phrase] = end
    return out


def lexicon_scores(texts: list[str] | pa.Array | pa.ChunkedArray) -> LexiconScores:
    """Score posts with the lexicon and rules; one array per output, in input order.

    >>> s = lexicon_scores(["I love it", "not good at all", "The box is blue", "VERY bad!!"])
    >>> [round(float(c), 2) for c in s.compound]
    [0.64, -0.34, 0.0, -0.73]
    """
    arr = as_arrow(texts)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    if n == 0:
        empty = np.zeros(0)
        return LexiconScores(empty, empty, empty, empty.astype(np.int64), empty.astype(bool))
    lex_words, lex_values = load_lexicon()

    spaced = pc.replace_substring_regex(arr, "[\ufe0f\ufe0e\u200d]", " ")
    spaced = pc.replace_substring_regex(spaced, f"({EMOJI_CLASS})", r" \1 ")
    split = pc.utf8_split_whitespace(spaced)
    flat = pc.list_flatten(split)
    lens = np.asarray(pc.list_value_length(split).fill_null(0), dtype=np.int64)
    n_tok = len(flat)
    doc = np.repeat(np.arange(n), lens)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    pos = np.arange(n_tok) - starts[doc]

    # VADER's tokens: punctuation stripped unless that leaves two characters or fewer
    # (so ":)" and ":-(" survive as emoticons).
    stripped = pc.utf8_trim(flat, string.punctuation)
    word = pc.if_else(pc.less_equal(pc.utf8_length(stripped), 2), flat, stripped)
    lower = pc.utf8_lower(word)
    upper = np.asarray(pc.utf8_is_upper(word), dtype=bool)

    lex_idx = np.asarray(pc.index_in(lower, value_set=lex_words).fill_null(-1))
    in_lex = lex_idx >= 0
    lexval = np.where(in_lex, lex_values[lex_idx], 0.0)
    code = np.asarray(pc.index_in(lower, value_set=pa.array(_SPECIAL)).fill_null(-1))
    boost_words = pa.array(list(BOOSTERS))
    boost_idx = np.asarray(pc.index_in(lower, value_set=boost_words).fill_null(-1))
    is_boost = boost_idx >= 0
    boost = np.where(is_boost, np.asarray(list(BOOSTERS.values()))[boost_idx], 0.0)
    negtok = np.asarray(
        pc.or_(pc.is_in(lower, value_set=pa.array(NEGATE)), pc.match_substring(lower, "n't")),
        dtype=bool,
    )

    def is_(w: str) -> np.ndarray:
        same: np.ndarray = code == _CODE[w]
        return same

    def prev(a: np.ndarray, d: int, fill: object = False) -> np.ndarray:
        return _shift(a, d, pos, fill)

    upper_count = np.bincount(doc, weights=upper, minlength=n)
    cap_diff = ((upper_count > 0) & (upper_count < lens))[doc]

    last = pos == lens[doc] - 1
    next_in_lex = np.zeros(n_tok, dtype=bool)
    next_in_lex[:-1] = in_lex[1:]
    next_in_lex &= ~last
    next_of = np.zeros(n_tok, dtype=bool)
    next_of[:-1] = is_("of")[1:]
    next_of &= ~last
    active = in_lex & ~is_boost & ~(is_("kind") & next_of)

    v = lexval.copy()
    v[is_("no") & next_in_lex] = 0.0
    after_no = (
        prev(is_("no"), 1)
        | prev(is_("no"), 2)
        | (prev(is_("no"), 3) & (prev(is_("or"), 1) | prev(is_("nor"), 1)))
    )
    v = np.where(after_no, lexval * N_SCALAR, v)
    v = np.where(upper & cap_diff, np.where(v > 0, v + C_INCR, v - C_INCR), v)

    # A negation does not reach past the end of its sentence ("Never again. Worst ever").
    brk = np.asarray(pc.match_substring_regex(flat, r"[.!?;]$"), dtype=bool)
    crossed = {1: prev(brk, 1)}
    for d in (2, 3):
        crossed[d] = crossed[d - 1] | prev(brk, d)

    so_this = is_("so") | is_("this")
    for d, damp in ((1, 1.0), (2, 0.95), (3, 0.9)):
        reach = (pos >= d) & ~prev(in_lex, d)
        s = np.where(v < 0, -prev(boost, d, 0.0), prev(boost, d, 0.0))
        caps_boost = prev(upper & is_boost, d) & cap_diff
        s = np.where(caps_boost, np.where(v > 0, s + C_INCR, s - C_INCR), s) * damp
        v = np.where(reach, v + s, v)
        if d == 1:
            emphasis = np.zeros(n_tok, dtype=bool)
            keep = emphasis
        elif d == 2:
            emphasis = prev(is_("never"), 2) & prev(so_this, 1)
            keep = prev(is_("without"), 2) & prev(is_("doubt"), 1)
        else:
            emphasis = (prev(is_("never"), 3) & prev(so_this, 2)) | prev(so_this, 1)
            keep = prev(is_("without"), 3) & (prev(is_("doubt"), 2) | prev(is_("doubt"), 1))
        negate = ~emphasis & ~keep & prev(negtok, d) & ~crossed[d]
        v = np.where(reach & emphasis, v * 1.25, v)
        v = np.where(reach & negate, v * N_SCALAR, v)

    least = prev(is_("least"), 1) & ~prev(in_lex, 1)
    at_very = prev(is_("at"), 2) | prev(is_("very"), 2)
    v = np.where(least & ((pos > 1) & ~at_very | (pos == 1)), v * N_SCALAR, v)

    # Negated context words ("never again", "doesn't work").
    ctx_words = pa.array(list(NEGATED_ONLY))
    ctx_idx = np.asarray(pc.index_in(lower, value_set=ctx_words).fill_null(-1))
    negated = (
        (prev(negtok, 1) & ~crossed[1])
        | (prev(negtok, 2) & ~crossed[2])
        | (prev(negtok, 3) & ~crossed[3])
    )
    ctx = (ctx_idx >= 0) & negated & ~in_lex
    v = np.where(ctx, np.asarray(list(NEGATED_ONLY.values()))[ctx_idx], v)
    active = active | ctx

    # Phrases: the last word carries the phrase's valence, the words before it nothing.
    sarcastic_forms = list(SARCASM_PHRASES) + list(SARCASM_IF_NEGATIVE)
    ends = _phrase_ends(lower, list(PHRASES) + sarcastic_forms, pos)
    for phrase, valence in PHRASES.items():
        end = ends[phrase]
        if not end.any():
            continue
        for d in range(1, len(phrase)):
            v = np.where(_shift_back(end, d, pos, lens, doc), 0.0, v)
        v = np.where(end, valence, v)
        active = active | end
    v = np.where(active, v, 0.0)

    # Sarcasm: an eye-roll emoji or a sarcastic formula flips the post's positive words.
    negative_said = np.bincount(doc, weights=v < 0, minlength=n) > 0
    cue = np.asarray(pc.is_in(lower, value_set=pa.array(SARCASM_EMOJI)), dtype=bool)
    for phrase in SARCASM_PHRASES:
        cue |= ends[phrase]
    for phrase in SARCASM_IF_NEGATIVE:
        cue |= ends[phrase] & negative_said[doc]
    sarcastic_post = np.bincount(doc, weights=cue, minlength=n) > 0
    sarcastic = sarcastic_post[doc]
    v = np.where(sarcastic & (v > 0), v * N_SCALAR, v)

    # Contrast: the words before the first "but" (or "however") count half, the words
    # after it 1.5 times.
    but_at = np.where(is_("but") | is_("however"))[0]
    first_but = np.full(n, np.iinfo(np.int64).max)
    if len(but_at):
        docs_b, first = np.unique(doc[but_at], return_index=True)
        first_but[docs_b] = pos[but_at[first]]
        fb = first_but[doc]
        has_but = fb != np.iinfo(np.int64).max
        before, after = CONTRAST_WEIGHTS
        v = np.where(has_but & (pos < fb), v * before, np.where(has_but & (pos > fb), v * after, v))

    total = np.bincount(doc, weights=v, minlength=n)
    pos_sum = np.bincount(doc, weights=np.where(v > 0, v + 1.0, 0.0), minlength=n)
    neg_sum = np.bincount(doc, weights=np.where(v < 0, v - 1.0, 0.0), minlength=n)

    exclaim = np.minimum(np.asarray(pc.count_substring(arr, "!")), 4) * 0.292
    questions = np.asarray(pc.count_substring(arr, "?"))
    question_amp = np.where(questions > 1, np.where(questions <= 3, questions * 0.18, 0.96), 0)
    total = total + np.sign(total) * (exclaim + question_amp)
    compound = np.clip(total / np.sqrt(total * total + ALPHA), -1.0, 1.0)
    return LexiconScores(compound, pos_sum, neg_sum, lens, sarcastic_post)


class LexiconAnalyzer:
    """The ``lexicon`` analyzer: fast, rule-based, no model to load.

    >>> labels, scores = LexiconAnalyzer().analyze(["Love this phone 😍", "Battery died. Again."])
    >>> labels.tolist(), [round(float(s), 2) for s in scores]
    (['positive', 'negative'], [0.8, -0.56])
    """

    name: ClassVar[str] = "lexicon"

    def __init__(self, thresholds: tuple[float, float] = THRESHOLDS) -> None:
        self.thresholds = thresholds

    def analyze(
        self, texts: list[str] | pa.Array | pa.ChunkedArray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels (``negative``/``neutral``/``positive``) and scores in [-1, 1]."""
        compound = lexicon_scores(texts).compound
        low, high = self.thresholds
        codes = np.where(compound < low, 0, np.where(compound > high, 2, 1))
        return LABELS[codes], compound
