"""Intent of a post: question, complaint, praise, suggestion or other.

Responding routes complaints and questions to the inbox; collaborating captures
suggestions as ideas. The classifier is a short list of cue patterns per intent (RE2
regular expressions run by Arrow over whole columns) and the post's sentiment score,
combined in a fixed order of precedence, the same order a person labelling posts uses
(``tests/listening/data/intent_labelling_guide.md``):

    complaint > suggestion > question > praise > other

A problem phrased as a question ("why does the app log me out every time??") is a
complaint; "love it, but please add dark mode" is a suggestion. Explicit cues decide
first; sentiment alone decides only when no cue fired, and news-like posts ("X opens
its 200th store") need a cue to count as praise or complaint.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.listening.text import as_arrow, normalise_array

INTENTS = ("question", "complaint", "praise", "suggestion", "other")


def _any(*patterns: str) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


# Cues are matched on lower-cased, normalised text (handles are "@user", links "http").
COMPLAINT_CUES = _any(
    r"\bstill (?:no|not|nothing|waiting|haven'?t|hasn'?t|can'?t|doesn'?t|don'?t)\b",
    r"\b(?:waiting|waited) (?:for|on|over|\d+)",
    r"\bon hold\b",
    r"\b(?:my|a|no|the|want (?:a|my)|for a|get a) refund\b|\brefund (?:yet|still)\b",
    r"\bcharged (?:me )?(?:twice|double|for)",
    r"\b(?:lost|cancel+ed|delayed|broke|broken|crash(?:es|ed|ing)?|leak(?:s|ed|ing)?|shrank)\b",
    r"\bfell apart\b|\bpeeling\b|\bstopped working\b|\bnot working\b|\bdoesn'?t work\b",
    r"\b(?:won'?t|can'?t|cannot|couldn'?t) (?:even )?"
    r"(?:play|load|log|connect|open|find|accept|get)\b",
    r"\bwrong (?:size|order|item|colou?r|milk)\b|\bgave me\b.*\binstead\b",
    r"\bnever (?:arrived|came|showed|turned up)\b|\bdidn'?t (?:show|arrive|turn up|come)\b",
    r"\b(?:no|without) (?:signal|internet|service|wifi|milk|water|reply|response|answer)\b",
    r"\b(?:delay|throttled|outage|disconnected|cut off|logs? me out|ripped off|rip-?off)\b",
    r"\bfix (?:your|this|it)\b|\bwhat is going on\b|\bi'?m done\b|\bi give up\b",
    r"\bworst\b|\bdisgrace|\bunacceptable\b|\bridiculous\b|\bjoke\b|\bscam\b|\bnightmare\b",
    r"\bdisaster\b|\bgross\b|\bsneaky\b|\bhate\b|\bfor nothing\b|\bno thanks\b",
    r"\byet (?:again|another)\b|\bnot again\b|\bagain(?:\?|!!)|\bevery\.? single\.? time\b",
    r"\b(?:third|fourth|fifth|\d+(?:rd|th)) time\b",
    r"\bgreat job\b.*🙄|\bthanks\b.*🙄|🙄|😡|🤬|😤|👎",
    r"\bruin(?:s|ed)?\b|\bdied\b|\bgets? (?:a )?better deal\b|\bmeans nothing\b|\bnot unlimited\b",
    r"\bthat'?s not\b|\bexplain\b|\bwhich is it\b|\bsupposed to\b|\bapparently doesn'?t\b",
    r"\blet ?down\b|\boverpriced\b|\bsoaked\b|\btorn\b|\bfalling apart\b|\bnothing like\b",
    r"\bnot what i (?:paid|ordered|expected)\b|\bwaste of\b|\bdisappoint|\buseless\b",
    r"\b(?:going back|switching|returning it|sending it back)\b|\bis it just me\b",
    r"\bthanks for nothing\b|🤡|🙃",
)
# A wish about the product said as what it *would* have been, or as what it lacks for the
# writer, the way reviews propose ("a spare battery would have been great", "the only
# thing missing is a balance control", "they could have thrown in better headphones").
# From the dev split of tests/data/idea_posts/amazon_labels.csv (issue 19); RE2 and
# Python ``re`` both read it (collaborating.idea_filter uses it too).
WISH_WOULD_CUES = _any(
    r"\bwould (?:\w+ ){0,2}have (?:liked|preferred|appreciated|loved)\b",
    r"\bwould(?: also)? (?:have been|be) (?:much |even |a lot |so |really |very )?"
    r"(?:nice|nicer|great|better|cool|cooler|good|helpful|handy|useful|convenient)\b",
    r"\bwould(?: also)? (?:have been|be) (?:a |an )(?:much |even |really |very )?"
    r"(?:nice|nicer|helpful|handy|useful|convenient)\b",
    r"\bwould (?:also )?have been (?:much )?easier\b",
)
# ... and the shapes that say what to build on their own (the "would have been nice"
# ones above are as common in chat: "it would have been cool if he'd scored", so
# collaborating.idea_filter wants a product word with those, and not with these)
WISH_BUILD_CUES = _any(
    r"\bwould have (?:made|given) (?:it|the \w+|me|us) (?:even )?(?:better|more)\b",
    r"\bwould have (?:gotten|got|received|given it|rated it) (?:a )?(?:5|five)(?: stars?)?,? "
    r"(?:if|had)\b",
    r"\bonly (?:thing|feature)s? (?:\w+ ){0,2}(?:missing|i miss|lacking)\b"
    r"|\bwhat it lacks for me\b",
    r"\bcould (?:at least |have )(?:thrown in|included|put in|added|made|offered)\b",
    r"\bif only (?:it|they|this|the \w+) (?:had|came|played|offered|made|were|could|would|did)\b"
    r"|\bonly if (?:we|i|you) could\b",
    r"\bthere should (?:have been|be) (?:a|an|more|some)\b",
    r"\bhope(?:fully)?,? (?:that )?(?:they|\w+) (?:will )?(?:soon )?"
    r"(?:offer|come out with|release|add|bring back)\b",
    r"\bhopefully (?:\w+ ){1,5}will (?:soon )?(?:offer|come out with|release|add)\b",
    r"\b(?:it|they) could (?:stand to )?be (?:a (?:little|bit|tad) )?(?:bit )?"
    r"(?:more \w+|bigger|smaller|longer|louder|brighter|lighter|thinner|faster)\b",
    r"\b(?:it|they|this|the \w+) should (?:feel|be) (?:a (?:little|bit|tad) )?(?:bit )?more\b",
)
WISH_CUES = _any(WISH_WOULD_CUES, WISH_BUILD_CUES)
# A request as a product's suggestion forum writes it: an imperative that opens the post
# ("Allow developers to…", "Please provide an API for…"), a feature wanted ("I would like
# to see…", "it would be useful if…", "should be possible to…"), a question that asks for
# one ("could you add…"). From the SemEval-2019 Task 9 forum posts used for development
# (tests/data/idea_posts/README.md); RE2 and Python ``re`` both read it.
FEATURE_REQUEST_CUES = _any(
    r"^(?:@user )*(?:hey \w+,? )?(?:please |pls |plz |kindly )?(?:allow (?:us|users|developers"
    r"|apps|the|a|an|to|access|for)|provide|enable|expose|implement|introduce|integrate|include"
    r"|extend|unify|make it (?:possible|easier|easy)|add (?:a|an|the|support|some|more|ability))\b",
    r"\b(?:please|pls|plz|kindly) (?:also )?(?:provide|allow|enable|expose|implement|introduce"
    r"|integrate|include|extend|unify|support|create|document|enhance|improve|port|release"
    r"|publish|reconsider)\b",
    r"\b(?:i|we)(?:'d| would) (?:really |also |very much |much )?(?:like to (?:have|be able)"
    r"|prefer to be able|like (?:the|an?) (?:ability|option|possibility|way))\b",
    r"\b(?:i|we) want (?:to be able|the ability|an? (?:option|way|api|setting))\b",
    r"\b(?:should|ought to|must) (?:also )?be (?:able to|possible|allowed|added|supported"
    r"|included|exposed|extended|improved|updated)\b",
    r"\bneeds to (?:be (?:able|possible|added|supported|exposed|improved|updated)"
    r"|support|provide|allow|add|include)\b",
    r"\b(?:could|can|would) (?:you|microsoft|they|the \w+ team) (?:please )?(?:add|provide"
    r"|include|allow|support|enable|expose|implement)\b",
    r"\b(?:i|we) (?:would )?(?:strongly )?suggest (?:to|that (?:you|microsoft|they|the)|adding"
    r"|making|providing|allowing|an? |the (?:ability|option|addition))\b",
    r"\bthere should be (?:an? |some |more |the )?(?:way|option|setting|button|api|ability)\b",
)
# ... and a feature said as what would be useful ("it would be useful if…", "it would be
# great to have…"): as common in chat ("would be awesome if I could get a reply"), so
# collaborating.idea_filter wants a product word with it.
FEATURE_WISH_CUES = (
    r"\b(?:it|this|that)?(?:'d| would| will) (?:also )?be (?:\w+ )?(?:useful|convenient|handy"
    r"|helpful|nice|great|good|better|ideal|cool|awesome) (?:if|to (?:have|be able|add|allow"
    r"|provide|include|support|receive|pin|choose|select|set))\b"
)
SUGGESTION_CUES = _any(
    WISH_CUES,
    FEATURE_REQUEST_CUES,
    FEATURE_WISH_CUES,
    r"\bplease (?:add|bring|make|restock|put|let|do|give|consider|offer|stock|open)\b",
    r"\b(?:pls|plz) (?:add|bring|make|do|restock)\b",
    r"\bbring back\b",
    r"\b(?:would|it'?d|that'?d|wouldn'?t it) be (?:so |really |very )?"
    r"(?:great|nice|amazing|cool|lovely|good|awesome|helpful|better)\b",
    r"\bwould (?:love|like) (?:it )?if\b|\bit would help if\b",
    r"\b(?:you|they|u) (?:should|need to|could|ought to)\b",
    r"\bshould (?:really |just )?"
    r"(?:offer|make|add|let|send|bring|do|have|sell|give|consider|introduce)\b",
    r"\bhow about\b|\bwhy not\b|\bwhat about (?:a|an|adding)\b",
    r"\b(?:i )?wish (?:you|they|it|there|the|\w+ (?:would|had|did|made|sold))\b|\bmy wish\b",
    r"\bcould (?:really )?use (?:a|an|some|more)\b|\bcould offer\b",
    r"\bneeds? (?:a|an|more|bigger|better|some)\b|\bneeds\?",
    r"\blet (?:us|me|you) (?:choose|pick|pay|pre-?order|earn|request|roll|add|skip)\b",
    r"\b(?:i'?d|we'?d|i would) (?:buy|pay|stay)\b|\bmaybe we'?d\b",
    r"\bgive (?:us|loyal|existing)\b|\bmore [\w-]+ (?:options|sizes|colou?rs)\b",
    r"\bif \w+ (?:did|made|sold|offered|had)\b|\bcan you (?:please )?make\b|\bfeature request\b",
    r"\bwould love (?:a|an|to see)\b|\bwould love it\b|\bsuggestion\b|\bidea:",
    r",? (?:please|pls|plz)[.!]*$",
    r"\bwould fix (?:that|this|it)\b|\bit'?s (?:about )?time (?:for|to)\b|\bidea(?: for \w+)?:",
    r"\bany plans (?:for|to)\b|\bplease consider\b|\b(?:we|i) need (?:a|an|more)\b",
)
NOT_SUGGESTION = _any(
    r"\bwish (?:you|u) (?:all )?(?:the best|nothing but|luck|a happy|well|many)",
    r"\bwish ?list\b",
    r"\bhow about (?:you|we|us) (?:and|&|go|grab|meet)\b",
)
QUESTION_START = (
    r"^(?:@user\s+)*(?:hey\s+)?(?:\w+,\s+)?"
    r"(?:how|what|when|where|which|who|whom|whose|is|are|am|does|do|did|can|could|will|would|"
    r"should|may|has|have|anyone|any ?one|any idea|any chance|is there|are there)\b"
)
QUESTION_CUES = _any(
    r"\b(?:anyone|any ?body) (?:know|tried|been|else|have|has|using)\b",
    r"\b(?:how do i|how can i|how long|how much|what time|what'?s the|can i|is there"
    r"|do you (?:ship|deliver|have|take|know)|are you open)\b",
    r"\bplease tell me\b|\bdoes any(?:one|body)\b",
)
PRAISE_CUES = _any(
    r"\bthank(?:s| you)\b|\bthx\b|\bcheers\b|\bshout ?out\b|\bkudos\b|\bprops\b",
    r"\blove(?:d|s)?\b|\bbest\b|\bamazing\b|\bawesome\b|\bfantastic\b|\bbrilliant\b",
    r"\bimpress(?:ed|ive)\b|\bworth every\b|\b10/10\b|\blegend|\brespect\b|\bclass act\b",
    r"\b(?:so|really|seriously|actually) (?:good|nice|fast|helpful|kind|easy)\b|\bmade my day\b",
    r"\bstill going strong\b|\bbuy once\b|\bwarmest\b|\bsmooth\b|\bpleasantly\b|\bexcited\b",
    r"😍|🥰|❤|👏|🙌|👌|🔥|🥹|😊|☺",
    r"\bexactly what i needed\b|\bno regrets\b|\bbargain\b|\bwell made\b|\bbuilt like\b",
    r"\b(?:great|excellent|perfect|superb|solid|reliable|recommend(?:ed)?|painless)\b",
)
NEWS_CUES = _any(
    r"^rt\b|\baccording to\b|\breports?\b|\bannounce[sd]?\b|\bshares (?:rose|fell)\b|\bceo\b",
    r"\bopens its\b|\bhiring\b|\blink in bio\b|\bsponsors?\b|\bpartnership\b|\bto trial\b",
    r"\badds (?:\w+ )?new\b|\bnew (?:blog post|episode)\b|\bpodcast\b|\bpassengers\b",
)
RHETORICAL = _any(
    r"\bme\?|\bseriously\?|\bright\?|\bwho cares\b|\bcould this\b",
    r"\banyone else (?:think|feel|hate|love)\b|\banyone up for\b|\bis it just me\b",
)

NEGATIVE_BELOW = -0.3
"""A sentiment score below this, with no cue, makes a complaint."""
POSITIVE_ABOVE = 0.45
"""A sentiment score above this, with no cue, makes praise."""


def _match(texts: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(texts, pattern).fill_null(False), dtype=bool)


def classify_intent(
    texts: Sequence[str] | pa.Array | pa.ChunkedArray,
    sentiment_scores: np.ndarray | None = None,
) -> np.ndarray:
    """One intent per post, from cue patterns and the sentiment score in [-1, 1].

    Without ``sentiment_scores`` the lexicon analyzer's scores are used.

    >>> classify_intent([
    ...     "@acme my order is still not here, 2 weeks now 😡",
    ...     "@acme please add a dark mode to the app",
    ...     "Does the Polaris jacket come in XL?",
    ...     "Love my new Polaris jacket, thank you!",
    ...     "Acme opens its 200th store today",
    ... ]).tolist()
    ['complaint', 'suggestion', 'question', 'praise', 'other']
    """
    arr = as_arrow(texts)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    lower = pc.utf8_lower(normalise_array(arr))
    if sentiment_scores is None:
        from socialcrm.listening.lexicon import lexicon_scores

        sentiment_scores = lexicon_scores(arr).compound
    score = np.asarray(sentiment_scores, dtype=np.float64)

    complaint = _match(lower, COMPLAINT_CUES)
    suggestion = _match(lower, SUGGESTION_CUES) & ~_match(lower, NOT_SUGGESTION)
    has_qmark = _match(lower, r"\?")
    rhetorical = _match(lower, RHETORICAL)
    question = (
        (has_qmark | _match(lower, QUESTION_CUES) | _match(lower, QUESTION_START))
        & (has_qmark | _match(lower, QUESTION_CUES))
        & ~rhetorical
    )
    praise = _match(lower, PRAISE_CUES)
    news = _match(lower, NEWS_CUES)

    why_negative = _match(lower, r"\bwhy\b") & (score < 0) & has_qmark
    complaint |= why_negative | (~news & ~suggestion & ~question & (score < NEGATIVE_BELOW))
    # "please add …, it blinds me": a request with a reason is still a suggestion, unless
    # the post also reports a concrete failure.
    praise |= ~news & (score > POSITIVE_ABOVE)

    out = np.full(len(arr), "other", dtype=object)
    out[praise] = "praise"
    out[question & ~news] = "question"
    out[suggestion] = "suggestion"
    out[complaint] = "complaint"
    return out
