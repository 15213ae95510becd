"""Stop words per language, for topic labels.

A topic label must name what posts talk about, so it may hold no function word of the
post's own language ("de", "und", "sur"), no chit-chat ("thanks", "sorry to hear"), and
no language code. Non-English lists come from ``stopwordsiso`` (the stopwords-iso
collection, 58 languages); English uses scikit-learn's list plus social-media fillers,
because stopwords-iso's English list also drops words a brand needs in a label ("order",
"value", "home", "work").
"""

from __future__ import annotations

from functools import cache

from socialcrm.listening.text import words

SOCIAL = frozenset(
    words(
        "im dont cant ive youre thats u ur r lol lmao omg rt amp via one day today new still "
        "even much back go going gonna know see want got get make made think time ever every "
        "http https www com user thanks thank thx sorry hear sort please pls plz hi hey hello "
        "yes yeah yep ok okay love loved great good best bad nice awesome amazing cool wow "
        "really just like also dm us let will would could should cheers happy glad soon tomorrow "
        "tonight yesterday week weekend morning night people thing things way lot little big "
        "need really right sure feel look looks looking said say says tell told come came "
        "guys gotta wanna didnt doesnt isnt wasnt wont thing"
    )
)
"""Words that carry no theme in social posts, whatever the language of the post."""


@cache
def stop_words(lang: str | None) -> frozenset[str]:
    """The stop words for posts in ``lang`` (ISO 639-1; English when unknown).

    >>> {"the", "thanks"} <= stop_words("en"), "und" in stop_words("de")
    (True, True)
    >>> "order" in stop_words("en"), "battery" in stop_words(None)
    (False, False)
    """
    import stopwordsiso
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    english = frozenset(ENGLISH_STOP_WORDS) | SOCIAL
    code = (lang or "en").lower()
    if code in ("en", "und") or not stopwordsiso.has_lang(code):
        return english
    return english | frozenset(stopwordsiso.stopwords(code))


@cache
def language_codes() -> frozenset[str]:
    """ISO 639-1 codes, never a label word on their own ("en · de" says nothing)."""
    import stopwordsiso

    return frozenset(stopwordsiso.langs()) | {"und"}
