"""Turns the JSON lines of bench/run into BENCHMARKS.md on stdout."""
import json
import os
import platform
import statistics
import subprocess
import sys


def machine_facts():
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    sqlite = subprocess.run(["sqlite3", "--version"], capture_output=True,
                            text=True).stdout.split(" ")[0] or "unknown"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores",
        f"- kernel: {platform.release()}",
        f"- SQLite: {sqlite}",
    ]


def summarise(values):
    return (statistics.median(values), min(values), max(values))


def main():
    rows = [json.loads(line) for line in open(sys.argv[1])]
    command = sys.argv[2]
    out = ["# Benchmarks", "", "Produced by `make bench`, which runs:", "",
           f"    {command}", "", "Machine:", ""]
    out += machine_facts()
    out += ["", "Each figure is the median of 3 runs, with min and max.",
            "The machine is shared and noisy; compare figures from the "
            "same run.", "",
            "## Store (SQLite, WAL, synchronous=FULL)", "",
            "| measurement | median | min | max |", "|---|---|---|---|"]

    groups = {}
    for row in rows:
        if row["bench"] == "submit":
            if row["size"] != 10000:
                continue
            key = (f"submit, {row['batch']} job(s) per transaction, "
                   f"jobs/s", "jobs_per_second")
        else:
            key = (f"claim 64 at a time with {row['waiting']:,} entries "
                   f"waiting, entries/s", "entries_per_second")
            groups.setdefault((f"claim with {row['waiting']:,} waiting, "
                               f"ms per claim of 64", "ms_per_claim"),
                              []).append(row["ms_per_claim"])
        groups.setdefault(key, []).append(row[key[1]])

    for (label, field), values in groups.items():
        median, low, high = summarise(values)
        fmt = "{:,.3f}" if field == "ms_per_claim" else "{:,.0f}"
        out.append(f"| {label} | {fmt.format(median)} | "
                   f"{fmt.format(low)} | {fmt.format(high)} |")
    print("\n".join(out))


main()
