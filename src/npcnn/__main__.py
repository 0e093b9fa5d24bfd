"""``python -m npcnn``: the same as the ``npcnn`` command (``npcnn.cli``)."""

from npcnn.cli import main

raise SystemExit(main())
