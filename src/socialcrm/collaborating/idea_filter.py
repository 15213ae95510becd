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
its dev split only), on labelled public tweets naming a company (``real_tweets.csv``), on
701 labelled Amazon review sentences (``amazon_labels.csv``) and, held out, on a fresh
sample of 1,360 real posts labelled before the classifier ran on them
(``fresh_labels.csv``, issue 19): 26 of 36 proposals are ideas (precision 0.72, Wilson
95% 0.56-0.84), 26 of 29 on the forum posts addressed to a maker (0.90), none of 7 on
tweets addressed to none. See ``tests/collaborating/test_idea_filter.py`` and
``docs/collaborating.md``.
"""

from __future__ import annotations

import re

from socialcrm.listening.intent import (
    FEATURE_REQUEST_CUES,
    FEATURE_WISH_CUES,
    WISH_BUILD_CUES,
    WISH_CUES,
)

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
    # (a forum's "we should be able to…", "we need to have a way…" are proposals)
    r"(?! (?:be able to|have (?:an?|the|some) (?:way|option|choice|button|api|setting|ability)))"
    r"|\bshould (?:i|we)\b|\bthan i should\b"
    r"|\bwish (?:i|i'?d|we|me|you were|she|he)\b|\bhope (?:i|you'?ll|you enjoy)\b"
    r"|\byou (?:should|need to|must) (?:always |really |definitely )?"
    r"(?:check|download|watch|go|try|read|get|see|use|follow|look|know)\b"
    # (not at the start: "you should be able to pick one" is a forum's proposal)
    r"|.\byou (?:should|need to|must) (?:always |really |definitely )?be able\b"
    r"|\bwhat you (?:should|need)\b"
    r"|\bshould (?:have it|be here|arrive|be arriving|be corrected|be fine)\b"
    r"|\bshould be able to (?:have|get|pick|collect|see) (?:it|them|your|one)\b"
    r"|\b(?:give|send|get|follow|dm|tell) me\b|\bwish me\b"
    r"|\b(?:follow|join) us\b|\b(?:consider|download|visit|try) our\b|\bour (?:app|store|shop)\b"
    # ... and what product reviews say to other buyers (tests/data/idea_posts/
    # amazon_sentences.csv, dev split): "you need to consider", "please consider this
    # before…", "I'd buy another", "would make a great gift", "better off with", and a
    # rating wished for ("would have liked to give it 5 stars").
    r"|\byou (?:should|need to|must|may want to) (?:\w+ )?(?:consider|decide|think|remember"
    r"|make sure|realize|be aware|buy|purchase|invest|replace)\b"
    r"|\byou (?:need|have) to have (?:the|your|it)\b|(?<!if )\b(?:i|we) could have\b"
    r"|\bplease (?:consider (?:this|buying|getting)|note|read|go to|see|share)\b"
    r"|\bi'?d (?:buy|get) (?:another|it again|one again|again)\b"
    r"|\bwould (?:be|make) (?:a|an) (?:\w+ ){0,2}(?:gift|choice|buy|purchase|investment|deal)\b"
    r"|\bbetter off\b|\b(?:liked|like|love|wanted) to (?:have )?(?:give|given|rate|rated)\b"
    # ... and what a product's suggestion forum says around a proposal without making one
    # (SemEval-2019 Task 9 forum posts used for development, tests/data/idea_posts/
    # README.md): the benefit of one made elsewhere ("this would be very useful in…",
    # "it would be really convenient."), a lead-in to a list ("two options would be
    # useful:"), a plea to read, vote or consider ("please consider it", "please do study
    # this post"), "why not?" alone, a curiosity ("I'd like to see how…"), a case for it.
    r"|(?:would be \w+|idea|request|following|follows|this|these|below|options?)\W*[:：]\W*$"
    r"|^\W*(?:if (?:no|not)|and|so|but)?,? why not\W*$"
    r"|\b(?:this|that|these|which|it)(?: (?:feature|idea|change|option|one|functionality"
    r"|approach|solution|method|api))? (?:would|will|'d|could|might) (?:also |really |very "
    r"|certainly |definitely |surely )*(?:be )?(?:very |really |so |much |super |extremely "
    r"|a lot )?(?:more )?(?:useful|helpful|convenient|handy|great|nice|good|awesome|cool"
    r"|beneficial|important|appreciated)(?: (?:addition|additions|feature|features|improvement"
    r"|improvements|change|changes|idea|thing|things|one|extras?))?"
    r"(?:[.!]|$| (?:in|on|when|as well|too|since|because)\b"
    r"| for(?!(?: [\w'-]+){1,4} to \w))"
    r"|^would be (?:\w+ )?(?:great|useful|nice|good|helpful) for\b"
    r"|\bplease (?:also |do )?(?:consider|implement|add|support|do|fix) (?:it|this|that|them)"
    r"\W*(?:$|[,.!;]\W*(?:it|this|thanks|thank)\b)"
    r"|\bplease (?:also )?(?:add|implement|support|provide|include|do|consider) (?:these|those"
    r"|them|it|this|that)(?: (?:feature|features|option|idea|functionality|capability|one))?"
    r"\W*(?:$|(?:to|in|on|for|as|asap|soon|too|please)\b)"
    r"|\bplease (?:do )?(?:help|study|read|vote|look at)\b"
    r"|\bplease consider (?:my|our|this|the) (?:suggestion|idea|request|feature|post)\b"
    r"|\blike to see (?:how|what|if|whether|my|you|him|her|them|it|that)\b"
    r"|\bis what i (?:would|'d) like\b"
    r"|\blet (?:us|me) know\b"
    r"|\bplease (?:support|allow) (?:our|us|me|my|your|yourself|local|him|her|them|this cause"
    r"|so|by)\b"
    r"|\bplease consider (?:donating|giving|supporting|joining|voting|signing|helping)\b"
    r"|\b(?:god|lord|jesus)\W+please\b|\bbe able to (?:meet|hang|come|attend|visit|watch)\b"
    r"|\bif (?:shooting|using|taking|you(?:'re| are) (?:shooting|using|taking|in|on|a|an))\b"
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
    r"|\bwish (?:there (?:was|were|is)|you|they|it|that|\w+ (?:would|worked|had|came|was|were)"
    r"|(?:the|this|my) \w+ (?:had|was|were|would|came|could))\b"
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
    rf"|{WISH_CUES}|{FEATURE_REQUEST_CUES}|{FEATURE_WISH_CUES}"
)

# Most of those shapes are as common in chat as in proposals ("how about Friday?", "why
# not?", "hurry up please", "he needs a new calendar", "would love to see them live": of
# the 363 tweets of TweetEval's train and validation splits they let through, most are
# about people, games and dates). A post is proposed on them only when it names
# something a maker sells or builds (:data:`PRODUCT_WORDS`); these shapes need no such
# word, as they say what to build: a build verb ("please add", "should offer", "bring
# back", a sentence that opens with "add" or "allow"), a wish said as a review says it
# (``WISH_BUILD_CUES``), a feature asked for as a forum asks (``FEATURE_REQUEST_CUES``).
STRONG_PROPOSES = re.compile(
    r"\b(?:should|could|needs? to|ought to|must)(?: just| really| definitely| also)? "
    r"(?:add|release|offer|sell|stock|restock|launch|include|introduce|provide|allow|enable)\b"
    r"|\b(?:please|pls|plz|kindly) (?:(?:also|just|do|consider) )?(?:add|adding|release"
    r"|offer|offering|open|stock|restock|sell|launch|include|allow|provide|enable|implement"
    r"|extend|introduce|expose|unify|document|enhance|port|publish|reconsider)\b"
    r"|\b(?:please|pls|plz) (?:also )?make (?:one|them|it) (?:in|for|with|available)\b"
    r"|\bplease consider (?!(?:it|this|that|my|our|the) (?:suggestion|idea|request|post)\b)"
    r"|^(?:add|offer|sell|restock|stock|release|introduce|allow|provide|enable|include"
    r"|implement|expose|extend|unify|give (?:us|loyal|customers|people|users|developers))\b"
    r"|\bfeature request\b|\bif (?:you|they|\w+) (?:made|make|offered|sold)\b"
    r"|\bin \w+ too\b|\blet us (?!know)"
    rf"|{FEATURE_REQUEST_CUES}|{WISH_BUILD_CUES}"
)
# Words for what a maker sells or builds: the products, their parts and settings, and
# the service around them (from the development data: the written brand posts, the
# Amazon review sentences, the forum posts, and what TweetEval's chat says instead).
PRODUCT_WORDS = frozenset(
    """
    app apps application version versions option options feature features setting settings
    mode modes button buttons size sizes colour colours color colors colourway colorway
    flavour flavours flavor flavors store stores shop shops website site delivery deliveries
    shipping returns refund refunds price prices pricing discount discounts subscription
    subscriptions membership account accounts checkout payment payments battery
    screen display case strap charger cable cables box packaging manual menu recipe
    recipes product products edition service services api apis sdk control tool
    tools update updates firmware software device devices phone phones camera lens zoom
    keyboard speaker speakers timer lamp bulb bulbs filters spare replacement warranty repair
    loyalty rewards catalogue catalog search notification notifications login password sync
    export import backup playlist controller console dlc format formats language languages
    subtitles translation shortcut shortcuts widget widgets tile tiles theme themes font
    fonts layout interface pocket pockets zipper sleeve sleeves lid handle refill refills
    ingredients vegan gluten plastic recycling wifi wi-fi coverage tariff receipt receipts
    invoice invoices email emails pdf offline programme program trade-in earphones headphones
    headset earpiece microphone mic flash memory storage capacity resolution megapixel
    sensor viewfinder grip port usb jack plug adapter cord ringtone ringtones ringer antenna
    reception speakerphone equalizer balance bass treble mp3 dvd disc tray lcd touchscreen
    stylus driver drivers emulator dashboard transmitter fm radio receiver remote dial model
    folder folders files recording navigation tiff jpeg accessories accessory extras finish
    property properties classes method methods xaml capability functionality launcher
    calendars bookmark bookmarks podcast podcasts icon icons reminder reminders
    callback textbox config configuration marketplace binding ui url framework
    charging usb-c cut shoe shoes jacket jackets trousers coat coats boots hoodie jeans
    sneakers backpack tent
    """.split()  # noqa: SIM905 (a word list reads better as text)
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
    if english and not STRONG_PROPOSES.search(low):
        words = {w.strip("'-").removesuffix("'s") for w in WORD.findall(low)}
        if not words & PRODUCT_WORDS:
            return False
    return len(content_words(text)) >= 1
