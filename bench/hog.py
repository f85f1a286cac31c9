"""Take a share of one core, in 10 ms slices: another tenant on the machine."""

import sys
import time

share = float(sys.argv[1])
while True:
    end = time.perf_counter() + 0.01 * share
    while time.perf_counter() < end:
        pass
    time.sleep(0.01 * (1 - share))
