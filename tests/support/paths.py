"""Where the repository is, for tests that read its configs or run its tools."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
