"""dlenv: from a short framework/GPU profile to a deep-learning container that provably works."""

__version__ = "0.2.0"
