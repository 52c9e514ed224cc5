"""`python -m sandbox invoke EVENT_FILE ...` and `python -m sandbox demo`; see sandbox.cli."""

import sys

from sandbox.cli import main

sys.exit(main())
