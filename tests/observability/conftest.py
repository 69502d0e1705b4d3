"""The receivers' fixtures (defined in ``receivers``, where the tests also find the helpers)."""

from .receivers import lineage_receiver, pushgateway, simulated

__all__ = ["lineage_receiver", "pushgateway", "simulated"]
