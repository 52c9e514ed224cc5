"""The benchmark behind `make bench`: speed, economy, start-up and fleet behaviour of the resource (never deployed)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The sandbox is a package under src/, the handler's modules sit at Lambda's root (src/handler), as in the Makefile.
for _path in (REPO / "src" / "handler", REPO / "src", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
