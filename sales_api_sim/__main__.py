"""Entry point of ``python -m sales_api_sim``."""

from sales_api_sim.cli import main

raise SystemExit(main())
