#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a benchmark's results into results.md and results.svg:

- count.csv + insn.log (bench/count.sh and the QEMU plugin
  bench/insn/nicmem-insn.c): guest instructions per payload byte (streams)
  and per transaction (RR), for the whole guest and for the sender's CPU,
  kernel and user apart; ratios to plain send;
- results.csv (bench/measure.sh): throughput and service demand, medians
  with 95% bootstrap intervals, ratios to plain send;
- for the key-value benchmark (bench/kv.sh), count.csv rows of kind kv
  (instructions per GET, the server's CPU apart) and kv.csv (requests per
  second, p50 and p99 latency) for the real memcached and examples/kv.

Standard library only.

    python3 bench/report.py <results-dir>
"""
import bisect
import csv
import math
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

MODES = ["plain", "nicmem", "zerocopy"]
# The key-value benchmark: examples/kv's modes, and the real memcached.
KV_SERVERS = ["plain", "memcached", "nicmem", "zerocopy", "resident"]
COLORS = {"plain": "#555555", "nicmem": "#d62728", "zerocopy": "#1f77b4", "memcached": "#2ca02c",
          "resident": "#9467bd"}
UNIT = {"stream": "B", "rr": "transaction", "kv": "GET"}


def load(path):
    groups = defaultdict(list)
    if not path.exists():
        return groups
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["tool"], row["test"], row["mode"], int(row["size"]))
            groups[key].append(row)
    return groups


BOOT = 2000


def values(rows, field):
    return [float(r[field]) for r in rows if r[field] not in ("", "nan")]


def interval95(samples):
    """The central 95% of bootstrap samples: (low, high)."""
    s = sorted(samples)
    return s[int(0.025 * len(s))], s[int(0.975 * len(s)) - 1]


def bootstrap_median(vals, rng):
    """95% percentile-bootstrap interval of the median."""
    if len(vals) < 2:
        return vals[0], vals[0]
    return interval95(statistics.median(rng.choices(vals, k=len(vals))) for _ in range(BOOT))


def summary(rows, field):
    """(median, low, high, n): the median and its 95% bootstrap interval."""
    vals = values(rows, field)
    if not vals:
        return None
    lo, hi = bootstrap_median(vals, random.Random(1))
    return statistics.median(vals), lo, hi, len(vals)


def fmt(stat, digits=1):
    if stat is None:
        return "-"
    med, lo, hi, _ = stat
    return f"{med:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def ratio(rows_a, rows_b, field):
    """Ratio of the medians of a field of rows a to rows b."""
    return ratio_of(values(rows_a, field), values(rows_b, field))


def ratio_of(a, b, digits=2):
    """Ratio of the median of a to that of b, with a 95% bootstrap interval."""
    if not a or not b or statistics.median(b) == 0:
        return "-"
    r = statistics.median(a) / statistics.median(b)
    if len(a) < 2 or len(b) < 2:
        return f"{r:.{digits}f}"
    rng = random.Random(2)
    rs = []
    for _ in range(BOOT):
        mb = statistics.median(rng.choices(b, k=len(b)))
        if mb:
            rs.append(statistics.median(rng.choices(a, k=len(a))) / mb)
    lo, hi = interval95(rs)
    return f"{r:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def load_counts(d):
    """Runs of count.csv, each with the instruction counts between its two
    markers: "total", "sender_k", "sender_u" and the block profile "tb"
    added to the row.
    The k-th completed start/end pair of insn.log is the k-th row."""
    cpath, ipath = d / "count.csv", d / "insn.log"
    if not cpath.exists() or not ipath.exists():
        return []
    with open(cpath, newline="") as f:
        rows = list(csv.DictReader(f))
    pairs, start = [], None
    for line in ipath.read_text().splitlines():
        w = line.split()
        if len(w) < 5 or w[0] != "mark":
            continue
        tag, vcpu, n = int(w[2]), int(w[3]), int(w[4])
        counts = [(int(w[5 + 2 * i]), int(w[6 + 2 * i])) for i in range(n)]
        if tag == 1:
            start = (vcpu, counts)
        elif tag == 2 and start is not None:
            pairs.append((start[0], start[1], counts, int(w[1])))
            start = None
    if len(pairs) != len(rows):
        sys.exit(f"report: {len(rows)} runs in count.csv but {len(pairs)} marker pairs in insn.log")
    for row, (vcpu, c0, c1, end_seq) in zip(rows, pairs):
        row["tb"] = d / f"insn.log.tb.{end_seq}"
        dk = [c1[i][0] - c0[i][0] for i in range(len(c0))]
        du = [c1[i][1] - c0[i][1] for i in range(len(c0))]
        row["total"] = sum(dk) + sum(du)
        # The sender runs the markers; a key-value run names its server's
        # CPU (the load generator runs the markers).
        cpu = int(row["server_cpu"]) if row.get("server_cpu") else vcpu
        row["sender_k"], row["sender_u"] = dk[cpu], du[cpu]
    return [r for r in rows if r["rep"] != "0"]


def count_table(runs, kind, modes):
    """Instructions per byte (stream) or per transaction (rr), medians over
    the repetitions with their spread (max-min, % of the median); ratios of
    medians with a 95% bootstrap interval."""
    per = UNIT[kind]
    cpu = "server CPU" if kind == "kv" else "sender CPU"
    sel = [r for r in runs if r["kind"] == kind]
    sizes = sorted({int(r["size"]) for r in sel})
    if not sizes:
        return []

    def per_unit(r, field):
        return r[field] / int(r["work"])

    head = ["size"] + [f"{m} insn/{per}" for m in modes]
    head += [f"{m}/plain" for m in modes[1:]]
    head += [f"{cpu} {m} kernel+user" for m in modes]
    head += [f"{cpu} {m}/plain" for m in modes[1:]]
    head += ["NIC memory share (nicmem)"]
    resident = "resident" in modes and any(r["mode"] == "resident" for r in sel)
    if resident:
        head += ["resident: bytes copied/GET", "resident: bytes by reference/GET"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    digits = 2 if kind == "stream" else 0
    for size in sizes:
        vals_of = {}
        cells = [human(size)]
        for field in ("total", "sender"):
            for m in modes:
                rs = [r for r in sel if r["mode"] == m and int(r["size"]) == size]
                if field == "sender":
                    ks = [per_unit(r, "sender_k") for r in rs]
                    us = [per_unit(r, "sender_u") for r in rs]
                    vals = [k + u for k, u in zip(ks, us)]
                else:
                    vals = [per_unit(r, "total") for r in rs]
                vals_of[(field, m)] = vals
                if not vals:
                    cells.append("-")
                    continue
                mv = statistics.median(vals)
                spread = 100 * (max(vals) - min(vals)) / mv if mv else 0
                if field == "sender":
                    cells.append(f"{mv:.{digits}f} ({statistics.median(ks):.{digits}f}+{statistics.median(us):.{digits}f})")
                else:
                    cells.append(f"{mv:.{digits}f} ±{spread / 2:.1f}%")
            for m in modes[1:]:
                cells.append(ratio_of(vals_of[(field, m)], vals_of[(field, "plain")]))
        cells.append(nicmem_share([r for r in sel if r["mode"] == "nicmem" and int(r["size"]) == size]))
        if resident:
            rs = [r for r in sel if r["mode"] == "resident" and int(r["size"]) == size]
            gets = sum(int(r["work"]) for r in rs) or 1
            copied = sum(int(r["nicmem_bytes"]) + int(r["fallback_bytes"]) for r in rs)
            cells += [f"{copied / gets:.1f}", f"{sum(int(r.get('resident_bytes') or 0) for r in rs) / gets:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def load_kallsyms(path):
    """Sorted (address, name) of the guest kernel's text symbols."""
    syms = []
    if path.exists():
        for line in path.read_text().splitlines():
            w = line.split()
            if len(w) >= 3 and w[1] in "tTwW":
                syms.append((int(w[0], 16), w[2]))
    syms.sort()
    return syms


def functions(tbfile, syms):
    """Instructions per function from a plugin block profile."""
    addrs = [a for a, _ in syms]
    per = defaultdict(int)
    for line in tbfile.read_text().splitlines():
        va, insns, execs = line.split()
        va = int(va, 16)
        if va < 1 << 63:
            name = "[user space]"
        else:
            i = bisect.bisect_right(addrs, va) - 1
            name = syms[i][1] if i >= 0 else "[kernel, unknown]"
        per[name] += int(insns) * int(execs)
    return per


def profile_tables(runs, syms, top=25):
    """Per size profiled: instructions per unit of work by function, every
    mode side by side, the functions where the modes differ most first."""
    lines = []
    prof = [r for r in runs if r["tb"].exists()]
    for kind, size in sorted({(r["kind"], int(r["size"])) for r in prof}):
        rs = {r["mode"]: r for r in prof if r["kind"] == kind and int(r["size"]) == size}
        if "plain" not in rs:
            continue
        modes = [m for m in KV_SERVERS if m in rs] if kind == "kv" else [m for m in MODES if m in rs]
        per = {m: functions(rs[m]["tb"], syms) for m in modes}
        work = {m: int(rs[m]["work"]) for m in modes}
        unit = UNIT[kind]
        names = set().union(*per.values())
        def norm(m, n):
            return per[m].get(n, 0) / work[m]
        order = sorted(names, key=lambda n: (-max(abs(norm(m, n) - norm("plain", n)) for m in modes), n))
        lines += [f"### {kind} {human(size)}: instructions per {unit} by function", "",
                  "| function | " + " | ".join(modes) + " | " +
                  " | ".join(f"{m} - plain" for m in modes[1:]) + " |",
                  "|---|" + "---|" * (2 * len(modes) - 1)]
        totals = [sum(per[m].values()) / work[m] for m in modes]
        lines.append("| **all** | " + " | ".join(f"{t:.3f}" for t in totals) + " | " +
                     " | ".join(f"{t - totals[0]:+.3f}" for t in totals[1:]) + " |")
        for n in order[:top]:
            lines.append(f"| `{n}` | " + " | ".join(f"{norm(m, n):.3f}" for m in modes) + " | " +
                         " | ".join(f"{norm(m, n) - norm('plain', n):+.3f}" for m in modes[1:]) + " |")
        lines.append("")
        if kind == "kv" and "resident" in per:
            lines += only_one_table(norm, names, "plain", "resident")
    return lines


def only_one_table(norm, names, a, b, least=1.0):
    """The functions (of names) that only one of modes a and b runs, at
    least `least` instructions per unit of work by norm(mode, name), with
    their sums: the part of the difference that is a different path, not
    noise in a shared one."""
    rows = []
    for n in names:
        x, y = norm(a, n), norm(b, n)
        if (x == 0) != (y == 0) and max(x, y) >= least and n != "[user space]":
            rows.append((n, x, y))
    rows.sort(key=lambda r: (r[1] != 0, -(r[1] + r[2]), r[0]))
    lines = [f"Functions only {a} or only {b} runs (at least {least:g} per unit):", "",
             f"| function | {a} | {b} |", "|---|---|---|"]
    lines += [f"| `{n}` | {x:.1f} | {y:.1f} |" for n, x, y in rows]
    lines += [f"| **sum** | {sum(r[1] for r in rows):.1f} | {sum(r[2] for r in rows):.1f} |", ""]
    return lines


def nicmem_share(rows):
    """Of the MSG_NICMEM runs' bytes, the share sent from NIC memory."""
    nb = sum(int(r["nicmem_bytes"]) for r in rows)
    fb = sum(int(r["fallback_bytes"]) for r in rows)
    return f"{100 * nb / (nb + fb):.0f}%" if nb + fb else "-"


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
        rows = {m: groups.get((tool, test, m, size), []) for m in modes}
        for m in modes:
            cells += [fmt(summary(rows[m], "throughput")), fmt(summary(rows[m], "service_demand"), 2)]
        for m in modes[1:]:
            cells += [ratio(rows[m], rows["plain"], "throughput"),
                      ratio(rows[m], rows["plain"], "service_demand")]
        cells.append(nicmem_share(rows["nicmem"]))
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


def heading(title, generator, about, env):
    """The top of a results.md: title, what made it, what it measures, the
    provenance."""
    return ([f"# {title}", "", f"Generated by {generator}; do not edit."] + about +
            ["Emulated device under QEMU TCG: compare ratios measured side by side, not absolute numbers.",
             "", "```", env.strip(), "```", ""])


def load_kv(path):
    """kv.csv rows (repetition 0, the warm-up, left out) by (server, size)."""
    groups = defaultdict(list)
    if path.exists():
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if row["rep"] != "0":
                    groups[(row["server"], int(row["size"]))].append(row)
    return groups


def kv_table(groups):
    """Requests per second and latency per value size and server; ratios of
    requests per second to memcached's and to plain send's."""
    sizes = sorted({k[1] for k in groups})
    servers = [s for s in KV_SERVERS if any(k[0] == s for k in groups)]
    if not sizes:
        return []
    head = ["value size"]
    for s in servers:
        head += [f"{s} GET/s", f"{s} p50 us", f"{s} p99 us"]
    head += ["plain/memcached GET/s"] + [f"{s}/plain GET/s" for s in servers if s not in ("plain", "memcached")]
    head += ["NIC memory share (nicmem)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for size in sizes:
        rows = {s: groups.get((s, size), []) for s in servers}
        cells = [human(size)]
        for s in servers:
            cells += [fmt(summary(rows[s], "rps"), 0), fmt(summary(rows[s], "p50_us"), 0),
                      fmt(summary(rows[s], "p99_us"), 0)]
        cells.append(ratio(rows.get("plain", []), rows.get("memcached", []), "rps"))
        cells += [ratio(rows[s], rows.get("plain", []), "rps") for s in servers if s not in ("plain", "memcached")]
        cells.append(nicmem_share(rows.get("nicmem", [])))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def kv_report(d, runs, env):
    """results.md and results.svg of the key-value benchmark."""
    kv = load_kv(d / "kv.csv")
    md = heading("NICMEM key-value benchmark results", "`scripts/nicmem bench --kv` (bench/kv.sh, bench/report.py)", [
        "GETs from `nicmem-kv-load` (every value checked) to the real memcached (plain send, the",
        "reference) and to `nicmem-kv-server` (examples/kv) with plain send, MSG_NICMEM,",
        "MSG_ZEROCOPY and resident values (in an arena of NIC memory, sent by reference: no copy);",
        "servers on one vCPU, the load generator on the other."], env)
    if runs:
        reps = len({r["rep"] for r in runs})
        md += ["## Guest instructions per GET (QEMU plugin, exact counts)", "",
               "A fixed number of GETs on one connection between two markers; insn/GET: the whole",
               "guest (server, load generator, both network stacks); server CPU: the server's vCPU,",
               f"kernel+user. Medians of {reps} repetitions in a seeded random order, ± half the",
               "spread; ratios of medians with a 95% bootstrap interval. Lower is better.", ""]
        md += count_table(runs, "kv", KV_SERVERS) + [""]
        prof = profile_tables(runs, load_kallsyms(d / "kallsyms"))
        if prof:
            md += ["## Where the instructions go (plugin block profile, exact)", ""] + prof
    if kv:
        md += ["## Time-based", "",
               "Cells: median [95% bootstrap interval] over the repetitions, each a closed loop of",
               "GETs from several connections for a fixed time. Ratios: median over median.", ""]
        md += kv_table(kv) + [""]
    (d / "results.md").write_text("\n".join(md) + "\n")
    w, h = 480, 300
    groups = defaultdict(list)
    for r in runs:
        r["per_unit"] = r["total"] / int(r["work"])
        groups[("count", "kv", r["mode"], int(r["size"]))].append(r)
    for (s, size), rows in kv.items():
        groups[("time", "kv", s, size)] += rows
    panels = [
        svg_panel(groups, "count", "kv", "per_unit", "guest instructions per GET", 0, 0, w, h, KV_SERVERS),
        svg_panel(groups, "time", "kv", "rps", "GETs per second", w, 0, w, h, KV_SERVERS),
    ]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{h}" font-family="sans-serif">',
           f'<rect width="{2 * w}" height="{h}" fill="white"/>'] + panels + ["</svg>"]
    (d / "results.svg").write_text("\n".join(svg) + "\n")
    print(f"wrote {d / 'results.md'} and {d / 'results.svg'}")


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
    groups = load(d / "results.csv")
    runs = load_counts(d)
    env = (d / "environment.txt").read_text() if (d / "environment.txt").exists() else ""
    if (d / "kv.csv").exists() or any(r["kind"] == "kv" for r in runs):
        kv_report(d, runs, env)
        return
    md = heading("NICMEM benchmark results", "`scripts/nicmem bench` (bench/run-guest.sh, bench/report.py)", [], env)
    if runs:
        reps = len({r["rep"] for r in runs})
        md += ["## Guest instructions (QEMU plugin, exact counts)", "",
               "Fixed work between two markers (bench/count.sh): a stream of a fixed number of bytes",
               "until the sink has them all, or a fixed number of request/response transactions.",
               "insn/B: instructions of the whole guest (both vCPUs) per payload byte; sender CPU:",
               "the vCPU of the sender and of its NIC's interrupts, kernel+user in parentheses.",
               f"Medians of {reps} repetitions in a seeded random order; ± is half the spread",
               "(max-min) in % of the median; ratios are medians over medians with a 95% bootstrap",
               "interval. Only TCP's timing moves a count: how small sends coalesce into skbs,",
               "skbs into segments and ACKs. A ratio says more or less than plain only where its",
               "interval excludes 1. Copy lengths are not in the counts (QEMU",
               "runs a whole `rep movs` in one block): they measure per-call and per-packet work.",
               "Lower is better.", "",
               "### Streams, per payload byte", ""]
        md += count_table(runs, "stream", MODES) + [""]
        md += ["### Request/response, per transaction", ""]
        md += count_table(runs, "rr", MODES) + [""]
        prof = profile_tables(runs, load_kallsyms(d / "kallsyms"))
        if prof:
            md += ["## Where the instructions go (plugin block profile, exact)", "",
                   "Instructions per unit of work by function (the guest's kallsyms); the functions",
                   "where the modes differ most come first.", ""] + prof
    md += ["## Time-based (netperf and nicmem-bench)", "",
           "Cells: median [95% bootstrap interval] over the repetitions. SD = local CPU service",
           "demand (lower is better). Ratios: median over median, with a 95% bootstrap interval.", ""]
    md += ["### TCP_STREAM, nicmem-bench (plain, MSG_NICMEM, MSG_ZEROCOPY)", ""]
    md += table(groups, "nicmem-bench", "STREAM", MODES) + [""]
    md += ["### TCP_STREAM, netperf (plain, MSG_NICMEM through libnicmem_preload.so)", ""]
    md += table(groups, "netperf", "TCP_STREAM", MODES[:2]) + [""]
    md += ["### TCP_RR, netperf (MSG_ZEROCOPY has no request/response mode)", ""]
    md += table(groups, "netperf", "TCP_RR", MODES[:2]) + [""]
    (d / "results.md").write_text("\n".join(md) + "\n")

    w, h = 480, 300
    for r in runs:
        r["per_unit"] = r["total"] / int(r["work"])
        groups[("count", r["kind"], r["mode"], int(r["size"]))].append(r)
    panels = [
        svg_panel(groups, "count", "stream", "per_unit", "guest instructions per byte (stream)", 0, 0, w, h, MODES),
        svg_panel(groups, "count", "rr", "per_unit", "guest instructions per transaction (RR)", w, 0, w, h, MODES),
        svg_panel(groups, "nicmem-bench", "STREAM", "throughput", "stream throughput (Mbit/s, nicmem-bench)", 0, h, w, h, MODES),
        svg_panel(groups, "nicmem-bench", "STREAM", "service_demand", "stream service demand (us/KB)", w, h, w, h, MODES),
    ]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{2 * h}" font-family="sans-serif">',
           f'<rect width="{2 * w}" height="{2 * h}" fill="white"/>'] + panels + ["</svg>"]
    (d / "results.svg").write_text("\n".join(svg) + "\n")
    print(f"wrote {d / 'results.md'} and {d / 'results.svg'}")


if __name__ == "__main__":
    main()
