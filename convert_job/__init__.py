"""Convert job: complete raw JSON partitions into validated Avro staging partitions."""

TOOL = "convert_job"
"""The job's name in manifests, logs and error lines."""
