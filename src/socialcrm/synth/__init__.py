"""A realistic synthetic demo brand, with its hidden truth kept apart for tests."""

from socialcrm.synth.brand import DemoFiles, generate_brand

__all__ = ["DemoFiles", "generate_brand"]
