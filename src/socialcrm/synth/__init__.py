"""A realistic synthetic demo brand, with its hidden truth kept apart for tests."""
