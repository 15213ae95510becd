"""Build the lexicon that ships with ``socialcrm.listening.lexicon`` from VADER's files.

VADER (Hutto & Gilbert 2014, MIT licence) rates 7,500 words, emoticons and slang from -4 to
+4, and describes 3,500 emoji in words. Our lexicon keeps every rated token and gives each
emoji the valence of its description as VADER itself would score it ("face with tears of
joy" → the valence of "joy"), so the analyzer can score emoji directly instead of
rewriting text, one character at a time, as VADER does.

Usage (needs the ``vaderSentiment`` package, a development dependency)::

    python scripts/build_sentiment_lexicon.py
"""

from __future__ import annotations

import math
from importlib.metadata import version
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

OUT = Path(__file__).parents[1] / "src/socialcrm/listening/data/sentiment_lexicon.tsv"

# Emoji whose description misleads VADER ("fire" is bad, "broken heart" is good to it)
# or holds no rated word, rated here by how they are used on social networks.
EMOJI_OVERRIDES = {
    "😡": -2.5,
    "🤬": -2.8,
    "😒": -1.5,
    "🙄": -1.5,
    "😤": -1.5,
    "👎": -2.0,
    "💔": -2.0,
    "🤮": -2.5,
    "💩": -1.5,
    "😔": -1.3,
    "😑": -0.8,
    "😐": 0.0,
    "😠": -2.3,
    "😾": -1.5,
    "🔥": 1.5,
    "👍": 1.8,
    "💯": 1.5,
    "🙌": 1.8,
    "👏": 1.5,
    "👌": 1.5,
    "💪": 1.3,
    "🤩": 2.5,
    "🥳": 2.2,
}


def raw_valence(compound: float, alpha: float = 15.0) -> float:
    """Invert VADER's normalisation ``x / sqrt(x² + alpha)``."""
    compound = max(min(compound, 0.9999), -0.9999)
    return compound * math.sqrt(alpha / (1.0 - compound * compound))


def main() -> None:
    vader = SentimentIntensityAnalyzer()
    rows: dict[str, float] = dict(vader.lexicon)
    for emoji, description in vader.emojis.items():
        if len(emoji) != 1 or emoji in rows:
            continue
        compound = vader.polarity_scores(description)["compound"]
        if compound != 0.0:
            rows[emoji] = round(max(min(raw_valence(compound), 3.5), -3.5), 3)
    rows.update(EMOJI_OVERRIDES)
    lines = [
        f"# Sentiment lexicon: token<TAB>valence (-4..+4). Built by {Path(__file__).name}",
        f"# from vaderSentiment {version('vaderSentiment')} lexicons (C.J. Hutto, MIT licence);",
        "# emoji valences are VADER's scores of their descriptions.",
    ]
    lines += [f"{token}\t{value:g}" for token, value in sorted(rows.items())]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} tokens to {OUT}")


if __name__ == "__main__":
    main()
