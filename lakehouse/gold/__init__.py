"""Gold: business entities and metrics, as Delta tables anyone can query."""
