"""``python -m simplestories_interp`` is the ``ssi`` command."""

import sys

from simplestories_interp.cli import main

sys.exit(main())
