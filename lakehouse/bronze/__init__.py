"""Bronze: raw landing records plus ingestion metadata, loaded with COPY INTO semantics."""
