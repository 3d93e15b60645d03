"""`python -m modelfort.runtime.guard --config PATH`."""

import sys

from modelfort.runtime.guard.cli import main

sys.exit(main())
