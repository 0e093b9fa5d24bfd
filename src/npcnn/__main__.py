"""``python -m npcnn``: see ``npcnn.cli``. Importing npcnn sets the BLAS threads first."""

from npcnn.cli import main

raise SystemExit(main())
