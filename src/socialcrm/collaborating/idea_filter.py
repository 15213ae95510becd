"""Which suggestion posts are ideas: a gate after listening's intent classifier.

Listening calls a post a *suggestion* when it has a request cue ("please", "would be
great if", "bring back"). That is right for routing, but an ideas board also receives the
replies that agree without saying what: "Yes please!", "love it. pls", "Same here,
please!", "Do it!". Those are praise or thanks, not ideas, and 300 of them bury the real
ones. A post is an idea only when, once the request words, agreement, praise, thanks and
function words are taken away, something is left to build: a thing, a place, a colour.
Posts that ask to be *told* something ("please let me know when…", "please tell me…")
are questions, not ideas.

Measured on ``tests/data/idea_posts/labelled.csv`` (written before these lists; tuned on
its dev split only): see ``tests/collaborating/test_idea_filter.py``.
"""

from __future__ import annotations

import re

# Words that carry no request content: agreement, praise, thanks, emotion, request verbs
# on their own, and English function words. What is left after them is the "what".
EMPTY_WORDS = frozenset(
    """
    yes yeah yep yess yesss ya yay omg oh ooh wow lol haha please pls plz pleeease
    pleease love loved loving lovely like likes liked so much very really totally
    absolutely definitely same here agreed agree agreeing too also count sign take money
    want wants need needs bad badly great good nice amazing awesome brilliant perfect
    best better ever idea ideas thanks thank thx ty cheers kudos happen happening do
    does did done doing make makes made add bring get got give have has had keep never
    stop change changing i me my mine we us our you your yours u it its this that these
    those one ones a an the and or but if then in on at to for of with from by as is am
    are was were be been being so just all some any more most can could would should
    will shall may might let lets know tell when what which who how why there their they
    them he she his her im i'm it's that's you're youre we're dont don't true real now
    soon asap already again life go going gonna wanna gotta ok okay sure right yo hey hi
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
NOT_IDEA = re.compile(
    r"\bplease (?:let (?:me|us) know|tell (?:me|us)|let (?:it|this) be|keep (?:it|going|doing)"
    r"|never|don'?t (?:ever )?(?:stop|change))\b"
)
WORD = re.compile(r"[a-zà-ÿ0-9][a-zà-ÿ0-9'’-]*")


def content_words(text: str) -> list[str]:
    """The words of ``text`` left once handles, links and :data:`EMPTY_WORDS` are gone."""
    text = re.sub(r"https?://\S+|@\w[\w.@-]*", " ", text.lower())
    return [w for w in WORD.findall(text.replace("’", "'")) if w.strip("'-") not in EMPTY_WORDS]


def is_idea(text: str) -> bool:
    """Whether a post the intent classifier called a suggestion proposes something."""
    low = " ".join(text.lower().split())
    if NOT_IDEA.search(low):
        return False
    return len(content_words(text)) >= 1
