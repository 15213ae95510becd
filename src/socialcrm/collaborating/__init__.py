"""Collaborating: ideas from customers, influencers and posts; feedback; webhooks."""
