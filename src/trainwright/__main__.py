"""``python -m trainwright`` runs the CLI."""

import sys

from trainwright.cli import main

if __name__ == "__main__":
    sys.exit(main())
