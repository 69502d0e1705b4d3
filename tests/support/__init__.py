"""What every test suite shares, in one place.

- ``env``: the environment a job runs in (every variable the programs read scrubbed, derived from their settings).
- ``jobs``: running a job, as a real subprocess (``run_job``, ``start_job``, ``start_paused``) or in this
  process (``run_in_process``), with one ``Result`` for both.
- ``files``: snapshots and listings of folder trees.
- ``partitions``: complete raw partitions built with the project's own manifest code.
"""
