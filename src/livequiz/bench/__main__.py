"""``python -m livequiz.bench``."""

import sys

from livequiz.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
