import sys

from extract_job.cli import main

sys.exit(main())
