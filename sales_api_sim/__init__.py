"""A local imitation of the upstream sales API, for tests, benchmarks and demos.

``running(SimulatorConfig(...))`` serves it from a background thread;
``python -m sales_api_sim`` serves it from the command line (see ``--help``);
``sales_api_sim.data`` tells what any page contains without a server.
"""

from sales_api_sim.config import SimulatorConfig
from sales_api_sim.server import RunningSimulator, make_server, running

__all__ = ["RunningSimulator", "SimulatorConfig", "make_server", "running"]
