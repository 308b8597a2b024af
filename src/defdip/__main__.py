"""``python -m defdip``."""
import sys

from defdip.cli import main

sys.exit(main())
