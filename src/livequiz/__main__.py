"""Allow ``python -m livequiz``."""

from livequiz.cli import main

raise SystemExit(main())
