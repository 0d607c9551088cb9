"""Defaults more than one step relies on, each defined once."""

from __future__ import annotations

# Seconds the smoke test may take: the profile's default, the image label's fallback for images
# dlenv did not label, and the smoke runner's own default.
SMOKE_TIMEOUT = 900
