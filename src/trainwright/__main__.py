"""``python -m trainwright`` runs the CLI."""

import sys

from trainwright.cli import main

sys.exit(main())
