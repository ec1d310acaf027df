"""Gold tables of the race, all from silver: stage results, general classification, checkpoint and climb
times, rider profiles, live standings, and two-rider segment comparisons (with an animated GIF).

Every timing is an interpolated crossing (`crossings`): the moment a rider's GPS track, as distance along
the route, passes a given distance (METRICS.md, "Race").
"""
