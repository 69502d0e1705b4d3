"""Side-by-side benchmark of the pipeline's jobs against classic homework baselines.

``python -m bench`` (see ``--help``) starts the sales API simulator in its own
process, runs every contender as a separate measured process, interleaved and
repeated, and prints markdown tables of medians. ``docs/benchmarks.md`` holds a
full run with the machine it ran on.
"""
