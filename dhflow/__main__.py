import sys

from dhflow.cli.main import main

sys.exit(main())
