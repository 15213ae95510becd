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
# What real posts say with a request word that is no request to the brand (from public
# tweets naming a company, tests/data/idea_posts/real_tweets.csv, dev split): the
# author's own plans and regrets ("I should have", "wish I had"), advice to readers
# ("you should check out"), a delivery expected ("should have it by Friday"), a favour
# for the author ("give me a code", "follow me"), and a business's own promotion
# ("follow us", "download our app").
NOT_A_PROPOSAL = re.compile(
    r"\b(?:i|i'?m|me|we) (?:should|shouldn'?t|need to|have to|may|might)\b"
    r"|\bshould (?:i|we)\b|\bthan i should\b"
    r"|\bwish (?:i|i'?d|we|me|you were|she|he)\b|\bhope (?:i|you'?ll|you enjoy)\b"
    r"|\byou (?:should|need to|must) (?:always |really |definitely )?"
    r"(?:check|download|watch|go|try|read|get|see|use|follow|look|know|be able)\b"
    r"|\bwhat you (?:should|need)\b"
    r"|\bshould (?:have it|be here|arrive|be arriving|be able to|be corrected|be fine)\b"
    r"|\b(?:give|send|get|follow|dm|tell) me\b|\bwish me\b"
    r"|\b(?:follow|join) us\b|\b(?:consider|download|visit|try) our\b|\bour (?:app|store|shop)\b"
)
# The shapes a proposal takes in English: "please" (with something left to build, see
# :func:`is_idea`), a request verb with what to build ("should make", "bring back"), a
# wish for the product ("I wish there was", "my wish -"), a question that proposes ("how
# about", "why not", "any plans for"), a conditional ("would be great if", "if you
# made"). An English post with a request cue but none of these ("should have left my PS4
# on", "at least give us a day off") is not proposed.
_VERB = (
    r"(?:add|make|bring|release|open|offer|consider|put|sell|stock|restock|launch|include|keep|do"
    r"|fix|support|use|used|hire|start|stop|show|let us|give (?:us|loyal|customers|people)"
    r"|have (?:a|an|all|more|some|the|it|them|one)|be on|come to|go back|switch|work on)"
)
PROPOSES = re.compile(
    r"\b(?:please|pls|plz|pleeease|kindly)\b"
    rf"|\b(?:should|could|needs? to|ought to|must)(?: just| really| definitely| also)? {_VERB}\b"
    rf"|\bshould have (?:used|made|added|released|kept|included|put|given|offered)\b"
    r"|\bwish (?:there (?:was|were|is)|you|they|it|that|\w+ (?:would|worked|had|came|was|were))\b"
    r"|\bmy wish\b|\bwould (?:love|like)\b|\bwould be (?:\w+ )?(?:great|nice|awesome|cool|"
    r"helpful|perfect|amazing|good|better)\b|\bwouldn'?t it be\b|\b(?:it )?would help\b"
    r"|\bhelpful if\b|\bhow about\b|\bwhat about\b|\bwhy not\b|\bwhy don'?t you\b"
    r"|\bany plans\b|\bcan (?:you|we|i just|u)(?: please)? (?:make|have|get|add|bring|do|offer)\b"
    r"|\bidea:|\bfeature request\b|\babout time\b|\bif you (?:made|make|had|offered|sold)\b"
    r"|\bi'?d (?:pay|buy|love)\b|\bcould (?:really )?use\b|\bmaybe (?:a|an|some)\b"
    r"|\bneeds (?:a|an|more|to be)\b|\bbring back\b|\bwould be perfect\b|\bin \w+ too\b"
    r"|^(?:add|make|bring|give|let|offer|put|sell|open|restock|stock)\b"
    r"|(?<!if )\bwe need (?:a|an|more)\b"
    r"|\bcan'?t i just have\b|\blet us\b|\b(?:a|an) \w+ (?:version|option|mode|size)\b"
)


WORD = re.compile(r"[a-zà-ÿ0-9][a-zà-ÿ0-9'’-]*")


def content_words(text: str) -> list[str]:
    """The words of ``text`` left once handles, links and :data:`EMPTY_WORDS` are gone."""
    text = re.sub(r"https?://\S+|@\w[\w.@-]*", " ", text.lower())
    return [w for w in WORD.findall(text.replace("’", "'")) if w.strip("'-") not in EMPTY_WORDS]


def is_idea(text: str, english: bool = True) -> bool:
    """Whether a post the intent classifier called a suggestion proposes something;
    ``english`` posts must also be shaped as a proposal (:data:`PROPOSES`).

    >>> is_idea("Please add a dark mode"), is_idea("You should check out our app")
    (True, False)
    """
    low = " ".join(text.lower().split())
    low = low.replace("’", "'")
    if NOT_IDEA.search(low) or NOT_A_PROPOSAL.search(low):
        return False
    if english and not PROPOSES.search(low):
        return False
    return len(content_words(text)) >= 1
