#!/usr/bin/env python3
"""Writes example.csv: four hours of a stream's traffic per minute, as `simulate --trace` reads it.

2 MiB/s for an hour, a ramp to 4 MiB/s, a launch at minute 120 (9 MiB/s for an hour), then
3 MiB/s with one partition key carrying 10 % of the writes. Records average 1.5 KiB. A slow
sine stands in for real wander, so the file is the same on every run.
"""
import math

MIB = 1024 * 1024
rows = ["minute,bytes_per_s,records_per_s,hot_key_share"]
for m in range(240):
    if m < 60:
        level, hot = 2.0, 0.0
    elif m < 120:
        level, hot = 2.0 + 2.0 * (m - 60) / 60, 0.0
    elif m < 180:
        level, hot = 9.0, 0.0
    else:
        level, hot = 3.0, 0.1
    bytes_per_s = round(level * MIB * (1 + 0.03 * math.sin(m / 7)))
    rows.append(f"{m},{bytes_per_s},{round(bytes_per_s / 1536)},{hot}")
with open("example.csv", "w") as f:
    f.write("\n".join(rows) + "\n")
