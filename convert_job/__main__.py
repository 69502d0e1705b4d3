import sys

from convert_job.cli import main

sys.exit(main())
