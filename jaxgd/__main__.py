"""``python -m jaxgd`` runs the command line."""

import sys

from jaxgd.cli import main

sys.exit(main())
