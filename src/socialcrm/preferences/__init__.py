"""The customer's own side: the preference centre, sign-ups, and social identities
linked at their option."""
