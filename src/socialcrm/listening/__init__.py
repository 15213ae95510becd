"""Listening: from raw social posts to sentiment, intent, topics, mentions and alerts.

The pipeline step is :func:`socialcrm.listening.step.step_listening`; the pieces below
also work on their own, on lists of texts or Arrow columns:

>>> from socialcrm.listening import classify_intent, get_analyzer
>>> get_analyzer("lexicon").analyze(["Love my new jacket!"])[0].tolist()
['positive']
>>> classify_intent(["Does it come in XL?"]).tolist()
['question']
"""

from socialcrm.listening.dedupe import duplicate_groups
from socialcrm.listening.intent import INTENTS, classify_intent
from socialcrm.listening.language import detect_languages
from socialcrm.listening.lexicon import LABELS, LexiconAnalyzer
from socialcrm.listening.mentions import Catalogue, find_mentions, mention_sentiment
from socialcrm.listening.sentiment import EmbeddingAnalyzer, SentimentAnalyzer, get_analyzer
from socialcrm.listening.spam import post_reasons
from socialcrm.listening.spikes import detect_negative_share_spikes, detect_volume_spikes
from socialcrm.listening.text import normalise, skeleton
from socialcrm.listening.topics import TopicModel

__all__ = [
    "INTENTS",
    "LABELS",
    "Catalogue",
    "EmbeddingAnalyzer",
    "LexiconAnalyzer",
    "SentimentAnalyzer",
    "TopicModel",
    "classify_intent",
    "detect_languages",
    "detect_negative_share_spikes",
    "detect_volume_spikes",
    "duplicate_groups",
    "find_mentions",
    "get_analyzer",
    "mention_sentiment",
    "normalise",
    "post_reasons",
    "skeleton",
]
