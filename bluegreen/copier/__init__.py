"""The shadow-table copier: a new table beside the live one, filled through a throttled
producer/consumer queue while triggers capture the live table's writes."""
