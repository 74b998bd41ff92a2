#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn bench/results/results.csv into results.md (medians, spreads, ratios
to plain send) and results.svg (throughput and service demand vs size, one
line per mode). Standard library only.

    python3 bench/report.py bench/results
"""
import csv
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

MODES = ["plain", "nicmem", "zerocopy"]
COLORS = {"plain": "#555555", "nicmem": "#d62728", "zerocopy": "#1f77b4"}


def load(path):
    groups = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["tool"], row["test"], row["mode"], int(row["size"]))
            groups[key].append(row)
    return groups


def summary(rows, field):
    vals = [float(r[field]) for r in rows if r[field] not in ("", "nan")]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals), len(vals)


def fmt(stat, digits=1):
    if stat is None:
        return "-"
    med, lo, hi, _ = stat
    return f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def ratio(a, b):
    if a is None or b is None or b[0] == 0:
        return "-"
    return f"{a[0] / b[0]:.2f}"


def human(size):
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= div and size % div == 0:
            return f"{size // div} {unit}"
    return f"{size} B"


def table(groups, tool, test, modes):
    sizes = sorted({k[3] for k in groups if k[0] == tool and k[1] == test})
    if not sizes:
        return []
    unit = next(r["unit"] for k, v in groups.items() if k[0] == tool and k[1] == test for r in v)
    sd_unit = next(r["sd_unit"] for k, v in groups.items() if k[0] == tool and k[1] == test for r in v)
    head = ["size"]
    for m in modes:
        head += [f"{m} {unit}", f"{m} SD {sd_unit}"]
    for m in modes[1:]:
        head += [f"{m}/plain tput", f"{m}/plain SD"]
    head += ["NIC memory share (nicmem)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for size in sizes:
        cells = [human(size)]
        stats = {}
        for m in modes:
            rows = groups.get((tool, test, m, size), [])
            stats[m] = (summary(rows, "throughput"), summary(rows, "service_demand"))
            cells += [fmt(stats[m][0]), fmt(stats[m][1], 2)]
        for m in modes[1:]:
            cells += [ratio(stats[m][0], stats["plain"][0]), ratio(stats[m][1], stats["plain"][1])]
        rows = groups.get((tool, test, "nicmem", size), [])
        nb = sum(int(r["nicmem_bytes"]) for r in rows)
        fb = sum(int(r["fallback_bytes"]) for r in rows)
        cells.append(f"{100 * nb / (nb + fb):.0f}%" if nb + fb else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def svg_panel(groups, tool, test, field, title, x0, y0, w, h, modes):
    sizes = sorted({k[3] for k in groups if k[0] == tool and k[1] == test})
    series = {}
    for m in modes:
        pts = []
        for s in sizes:
            st = summary(groups.get((tool, test, m, s), []), field)
            if st and st[0] > 0:
                pts.append((s, st[0]))
        if pts:
            series[m] = pts
    if not series:
        return ""
    ys = [y for pts in series.values() for _, y in pts]
    ylo, yhi = math.log10(min(ys)) - 0.1, math.log10(max(ys)) + 0.1
    xlo, xhi = math.log2(sizes[0]), math.log2(sizes[-1]) if len(sizes) > 1 else math.log2(sizes[0]) + 1

    def px(s):
        return x0 + 60 + (math.log2(s) - xlo) / (xhi - xlo or 1) * (w - 80)

    def py(v):
        return y0 + h - 40 - (math.log10(v) - ylo) / (yhi - ylo or 1) * (h - 70)

    out = [f'<text x="{x0 + w / 2}" y="{y0 + 18}" text-anchor="middle" font-size="14">{title}</text>',
           f'<rect x="{x0 + 60}" y="{y0 + 30}" width="{w - 80}" height="{h - 70}" fill="none" stroke="#999"/>']
    for s in sizes:
        out.append(f'<text x="{px(s):.1f}" y="{y0 + h - 22}" text-anchor="middle" font-size="10">{human(s)}</text>')
    mantissas = (1, 2, 5) if yhi - ylo > 1 else (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)
    for e in range(math.floor(ylo), math.ceil(yhi) + 1):
        for m in mantissas:
            v = m * 10 ** e
            if ylo <= math.log10(v) <= yhi:
                out.append(f'<text x="{x0 + 55}" y="{py(v) + 3:.1f}" text-anchor="end" font-size="10">{v:g}</text>')
                out.append(f'<line x1="{x0 + 60}" x2="{x0 + w - 20}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#eee"/>')
    for i, (m, pts) in enumerate(series.items()):
        path = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{COLORS[m]}" stroke-width="2"/>')
        for s, v in pts:
            out.append(f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="3" fill="{COLORS[m]}"/>')
        out.append(f'<text x="{x0 + 70}" y="{y0 + 45 + 14 * i}" font-size="11" fill="{COLORS[m]}">{m}</text>')
    return "\n".join(out)


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
    groups = load(d / "results.csv")
    env = (d / "environment.txt").read_text() if (d / "environment.txt").exists() else ""
    md = ["# NICMEM benchmark results", "",
          "Generated by `scripts/nicmem bench` (bench/run-guest.sh, bench/report.py); do not edit.",
          "Emulated device under QEMU TCG: compare ratios measured side by side, not absolute numbers.",
          "Cells: median (min-max) over the repetitions. SD = local CPU service demand (lower is better).", "",
          "```", env.strip(), "```", ""]
    md += ["## TCP_STREAM, nicmem-bench (plain, MSG_NICMEM, MSG_ZEROCOPY)", ""]
    md += table(groups, "nicmem-bench", "STREAM", MODES) + [""]
    md += ["## TCP_STREAM, netperf (plain, MSG_NICMEM through libnicmem_preload.so)", ""]
    md += table(groups, "netperf", "TCP_STREAM", MODES[:2]) + [""]
    md += ["## TCP_RR, netperf (MSG_ZEROCOPY has no request/response mode)", ""]
    md += table(groups, "netperf", "TCP_RR", MODES[:2]) + [""]
    (d / "results.md").write_text("\n".join(md) + "\n")

    w, h = 480, 300
    panels = [
        svg_panel(groups, "nicmem-bench", "STREAM", "throughput", "stream throughput (Mbit/s, nicmem-bench)", 0, 0, w, h, MODES),
        svg_panel(groups, "nicmem-bench", "STREAM", "service_demand", "stream service demand (us/KB)", w, 0, w, h, MODES),
        svg_panel(groups, "netperf", "TCP_STREAM", "throughput", "netperf TCP_STREAM (Mbit/s)", 0, h, w, h, MODES[:2]),
        svg_panel(groups, "netperf", "TCP_RR", "throughput", "netperf TCP_RR (trans/s)", w, h, w, h, MODES[:2]),
    ]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{2 * h}" font-family="sans-serif">',
           f'<rect width="{2 * w}" height="{2 * h}" fill="white"/>'] + panels + ["</svg>"]
    (d / "results.svg").write_text("\n".join(svg) + "\n")
    print(f"wrote {d / 'results.md'} and {d / 'results.svg'}")


if __name__ == "__main__":
    main()
