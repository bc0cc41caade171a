"""PostgreSQL (psycopg 3): the first engine."""
