"""Data: the database pool, the Redis client, and the SQL for each table. No HTTP here."""
