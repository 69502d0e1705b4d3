"""Code both batch jobs use: configuration, logging, dates, zones, manifests, atomic partitions."""
