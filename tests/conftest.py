"""Test-wide settings."""

from __future__ import annotations

import os
import tempfile

# Parsed files are cached on disk (resdsl/cache.py). Tests parse thousands of throw-away specs:
# keep their cache in a folder of this test session, not in the user's ~/.cache.
os.environ["RESDSL_CACHE_DIR"] = tempfile.mkdtemp(prefix="resdsl-test-cache-")
