"""Responding: the engagement inbox.

Conversations grouped from posts, ranked by a priority that shows its parts, worked by
agents through states and SLAs, answered through connectors and an outbox that never
posts twice. State lives in the app database; posts and scores come from the warehouse.
"""
