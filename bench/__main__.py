"""`python -m bench [--sizes 1,4,16] [--quick]`: every benchmark, one table with the ratios (see `bench.run_all`)."""

from __future__ import annotations

import sys

from bench.run_all import main

if __name__ == "__main__":
    sys.exit(main())
