"""Where race files sit in the landing zone (what bronze reads, whoever lands them).

    race/athletes/<any>.csv                         the riders sheet
    race/stages/stage=07/<any>.csv                  one route file per stage (points, checkpoint rows named)
    race/start_lists/stage=07/<any>.csv             time trials only: each rider's start time
    race/telemetry/date=2024-07-05/<any>.csv        1 Hz points, files by arrival time, partitioned by day
"""

from __future__ import annotations

ATHLETES_PREFIX = "race/athletes/"
STAGES_PREFIX = "race/stages/"
START_LISTS_PREFIX = "race/start_lists/"
TELEMETRY_PREFIX = "race/telemetry/"
