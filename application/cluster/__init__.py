"""N processes acting as one, fast: the change bus, vote channels, caches, live sockets."""
