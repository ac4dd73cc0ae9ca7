"""Markdown tables of scripts/bench-peer.sh from its results file.

Each line: side row clients round key=value... (the RESULT line of profiles.lua).
Sides: `semrec` and `peer-w<N>` (N uvicorn workers). Per point, req/s counts 2xx
responses only; the peer's column shows its better worker count (by mean req/s
over the rounds). Standard library only: runs with the system python3.
"""

import sys
from collections import defaultdict
from statistics import mean


def load(path):
    points = defaultdict(list)  # (side, row, clients) -> [run]
    with open(path) as f:
        for line in f:
            side, row, clients, rnd, *kv = line.split()
            run = {k: int(v) for k, v in (x.split("=", 1) for x in kv)}
            run["round"] = int(rnd)
            run["rps"] = run["ok"] / (run["duration_us"] / 1e6)
            points[(side, row, int(clients))].append(run)
    return points


def ms(us):
    return f"{us / 1000:.1f} ms" if us < 1_000_000 else f"{us / 1e6:.2f} s"


def cell(runs):
    rps = [r["rps"] for r in runs]
    lo, hi = min(rps), max(rps)
    rate = f"{lo:.1f} req/s" if hi - lo < 0.05 else f"{lo:.1f}–{hi:.1f} req/s"
    text = f"{rate}, p50 {ms(mean(r['p50_us'] for r in runs))}, p99 {ms(mean(r['p99_us'] for r in runs))}"
    refused = sum(r["s429"] for r in runs)
    other = sum(r["other"] + r["sock_errors"] + r["timeouts"] for r in runs)
    total = sum(r["responses"] for r in runs)
    if refused:
        text += f"; **429: {refused} of {total}**"
    if other:
        text += f"; other non-2xx/errors: {other}"
    return text


def main(path):
    points = load(path)
    sides = sorted({s for s, _, _ in points})
    peers = [s for s in sides if s.startswith("peer-w")]
    rows = list(dict.fromkeys(r for _, r, _ in points))
    what = {
        "distinct": "distinct one-interest profiles (every text new: embedding-cache misses)",
        "repeated": "one repeated profile (embedding-cache hits)",
    }
    for row in rows:
        print(f"**{what.get(row, row)}**\n")
        print("| clients | semrec `POST /api/v1/recommendations` | peer (best of "
              + "/".join(p.removeprefix("peer-w") for p in peers)
              + " uvicorn workers) | semrec ÷ peer req/s |")
        print("|---|---|---|---|")
        for c in sorted({c for _, r, c in points if r == row}):
            ours = points.get(("semrec", row, c), [])
            theirs = [(mean(x["rps"] for x in points[(p, row, c)]), p)
                      for p in peers if (p, row, c) in points]
            if not ours or not theirs:
                continue
            best_rps, best = max(theirs)
            ratio = mean(x["rps"] for x in ours) / best_rps if best_rps else float("inf")
            n = best.removeprefix("peer-w")
            print(f"| {c} | {cell(ours)} | {cell(points[(best, row, c)])} ({n} worker{'s' if n != '1' else ''}) "
                  f"| {ratio:.2f}× |")
        print()
    print("<details><summary>every run</summary>\n")
    print("| side | row | clients | round | 2xx req/s | p50 | p99 | 429 | other |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (side, row, c), runs in sorted(points.items()):
        for r in runs:
            print(f"| {side} | {row} | {c} | {r['round']} | {r['rps']:.1f} | {ms(r['p50_us'])} "
                  f"| {ms(r['p99_us'])} | {r['s429']} | {r['other'] + r['sock_errors'] + r['timeouts']} |")
    print("\n</details>")


if __name__ == "__main__":
    main(sys.argv[1])
