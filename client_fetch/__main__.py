import sys

from client_fetch.cli import main

sys.exit(main())
