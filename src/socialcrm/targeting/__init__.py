"""Targeting: social segments inside value tiers, and next-best-actions with reasons."""
