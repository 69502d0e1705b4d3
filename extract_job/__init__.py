"""Extract job: one day (or a range) of sales from the paginated API into raw JSON partitions."""

TOOL = "extract_job"
"""The job's name in manifests, logs and error lines."""
