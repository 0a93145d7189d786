"""`python -m seeder` is the `seeder` command."""

import sys

from seeder.cli import main

sys.exit(main())
