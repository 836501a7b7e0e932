import sys

from jobs_connector.cli.main import main

sys.exit(main())
