import sys

from taskhook.cli import main

sys.exit(main())
