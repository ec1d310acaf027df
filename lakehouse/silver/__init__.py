"""Silver: typed, unit-normalised, deduplicated tables, kept current with idempotent MERGEs."""
