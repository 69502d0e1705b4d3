"""Convert job: complete raw JSON partitions into validated Avro staging partitions."""
