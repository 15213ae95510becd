"""Privacy rights: what the brand holds about a person, shown to them or erased."""
