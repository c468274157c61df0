"""Turns bench/run.sh measurements into bench/RESULTS.md and an SVG plot of throughput
against connections. Standard library only.

Usage: report.py RESULTS.tsv RESULTS.md PLOT.svg MACHINE COMMAND
"""
import statistics
import sys
from collections import defaultdict

LABELS = {
    "nginx_204": "nginx `return 204` (no auth: the limit)",
    "hyper_204": "bare hyper `204`, no auth (the Rust stack's limit)",
    "portcullis_verify": "Portcullis `/auth/verify` (cached token)",
    "portcullis_verify_rate_limited": "Portcullis `/auth/verify`, rate limiter on",
    "nginx_proxy": "nginx `proxy_pass` (no auth)",
    "portcullis_proxy": "Portcullis reverse proxy (token checked)",
    "nginx_auth_request_proxy": "nginx `auth_request` → Portcullis + `proxy_pass`",
}
COLOURS = {
    "nginx_204": "#6b7280", "hyper_204": "#d97706", "portcullis_verify": "#2457d6", "portcullis_verify_rate_limited": "#7c3aed", "nginx_proxy": "#9ca3af",
    "portcullis_proxy": "#1a7f4b", "nginx_auth_request_proxy": "#c0362c",
}
TARGETS = [
    ("portcullis_verify", "nginx_204", 0.9, "forward-auth ≥ 0.9 × nginx return 204"),
    ("portcullis_proxy", "nginx_proxy", 1.0, "reverse proxy ≥ 1.0 × nginx proxy_pass"),
    ("portcullis_proxy", "nginx_auth_request_proxy", 1.5, "reverse proxy ≥ 1.5 × nginx auth_request + proxy_pass"),
]


def load(path):
    """Every measurement, keyed by (target, connections), then by run number."""
    runs = defaultdict(dict)
    with open(path) as f:
        for line in f:
            name, connections, run, rps = line.rstrip("\n").split("\t")
            if rps:
                runs[(name, int(connections))][int(run)] = float(rps)
    return runs


def medians_of(runs):
    return {key: statistics.median(values.values()) for key, values in runs.items()}


def paired_ratio(runs, ours, theirs, connections):
    """The median over runs of ours / theirs within the same run. The runs are interleaved, so
    the two were measured seconds apart: a drift of the machine between runs cancels out,
    where a ratio of two medians would mix different moments. None when either is missing."""
    a, b = runs.get((ours, connections)), runs.get((theirs, connections))
    if not a or not b:
        return None
    pairs = [a[run] / b[run] for run in a if run in b and b[run]]
    return statistics.median(pairs) if pairs else None


def svg(medians, path):
    names = [n for n in LABELS if any(k[0] == n for k in medians)]
    levels = sorted({c for _, c in medians})
    width, height, left, bottom, top, right = 760, 420, 70, 50, 20, 260
    top_value = max(medians.values()) * 1.1
    def x(i):
        return left + i * (width - left - right) / max(1, len(levels) - 1)
    def y(v):
        return height - bottom - v / top_value * (height - bottom - top)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for step in range(6):
        v = top_value * step / 5
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v / 1000:.0f}k</text>')
    for i, c in enumerate(levels):
        out.append(f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle">{c}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 10}" text-anchor="middle">connections</text>')
    out.append(f'<text x="16" y="{top + 10}" >req/s</text>')
    for row, name in enumerate(names):
        points = [(x(i), y(medians[(name, c)])) for i, c in enumerate(levels) if (name, c) in medians]
        path_data = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        out.append(f'<polyline fill="none" stroke="{COLOURS[name]}" stroke-width="2.5" points="{path_data}"/>')
        for px, py in points:
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{COLOURS[name]}"/>')
        ly = top + 14 + row * 20
        label = LABELS[name].replace("`", "")
        out.append(f'<rect x="{width - right + 12}" y="{ly - 9}" width="12" height="12" fill="{COLOURS[name]}"/>')
        out.append(f'<text x="{width - right + 30}" y="{ly + 1}">{label}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def markdown(runs, path, machine, command):
    medians = medians_of(runs)
    levels = sorted({c for _, c in medians})
    lines = ["# Benchmark results", "", f"Machine: {machine}. Command: `{command}`.", "",
             "Requests per second, median of the runs, wrk on 127.0.0.1 with keep-alive; servers on core 0 "
             "(one nginx worker, one Portcullis runtime thread), wrk on core 1.", "",
             "| | " + " | ".join(f"{c} conn." for c in levels) + " |",
             "| --- | " + " | ".join("---:" for _ in levels) + " |"]
    for name, label in LABELS.items():
        cells = [f"{medians[(name, c)]:,.0f}" if (name, c) in medians else "—" for c in levels]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets (at 64 connections)", "",
              "Each ratio is the median over the runs of the two throughputs measured in the same run "
              "(the runs are interleaved), so it does not follow the machine's drift from run to run.", "",
              "| target | ratio | met |", "| --- | ---: | :---: |"]
    for ours, theirs, goal, text in TARGETS:
        ratio = paired_ratio(runs, ours, theirs, 64)
        if ratio is not None:
            lines.append(f"| {text} | {ratio:.2f} | {'yes' if ratio >= goal else 'no'} |")
    ours = paired_ratio(runs, "portcullis_verify", "hyper_204", 64)
    stack = paired_ratio(runs, "hyper_204", "nginx_204", 64)
    if ours is not None and stack is not None:
        lines += ["", f"Not a target, for reading the first one: `/auth/verify` runs at {ours:.2f} × a bare hyper "
                  f"server answering 204 (Portcullis's own work), and bare hyper at {stack:.2f} × nginx "
                  "`return 204` (the HTTP stack), at 64 connections."]
    limited = paired_ratio(runs, "portcullis_verify_rate_limited", "portcullis_verify", 64)
    if limited is not None:
        lines += ["", f"The rate limiter (on, with limits no run reaches) keeps {limited:.2f} × the throughput of "
                  "`/auth/verify` without it, at 64 connections."]
    lines += ["", "![throughput against connections](throughput.svg)", ""]
    block = "\n".join(lines)
    # Only the generated block is replaced; what is written around it stays.
    start, end = "<!-- bench/run.sh: start -->", "<!-- bench/run.sh: end -->"
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    if start in old and end in old:
        text = old[: old.index(start)] + start + "\n" + block + "\n" + old[old.index(end):]
    else:
        text = start + "\n" + block + "\n" + end + "\n"
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    results, md, plot, machine, command = sys.argv[1:6]
    runs = load(results)
    svg(medians_of(runs), plot)
    markdown(runs, md, machine, command)
