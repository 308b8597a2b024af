"""``python -m defdip``."""
import sys

from defdip.cli.main import main

sys.exit(main())
