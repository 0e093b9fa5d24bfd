"""``python -m npcnn.report``: the same as ``npcnn report``."""

import sys

from npcnn.report.build import main

sys.exit(main())
