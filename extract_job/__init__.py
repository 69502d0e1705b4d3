"""Extract job: one day (or a range) of sales from the paginated API into raw JSON partitions."""
