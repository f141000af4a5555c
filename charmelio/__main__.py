import sys

from charmelio.cli import main

sys.exit(main())
