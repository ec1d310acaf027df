"""Silver tables of the race: reference data (riders, stages, routes, checkpoints, start times), the
route-matching grid, and deduplicated telemetry matched to the route."""
