import sys

from fea_agent.cli import main

sys.exit(main())
