"""Race GPS: the Tour de France data on the lakehouse, in batch and in Structured Streaming.

- Generation and landing: `routes` (21 stage routes with checkpoints), `athletes` (the riders sheet),
  `telemetry` (1 Hz rider points, with the defects of real device data), `landing` (files in the zone).
- Bronze: `bronze` (reference files through the shared loader; telemetry through Spark's CSV reader, each
  file loaded once, bad rows quarantined).
- Silver: `silver/` (riders, stages and routes, the route-matching grid, deduplicated matched telemetry).
- Gold: `gold/` (crossings, stage results, general classification, checkpoint and climb times, profiles,
  segment comparison and its GIF, live standings).
- Running: `run` (batch), `stream` (Structured Streaming), `replay` (a stage at N times real time).
"""
