"""Table and plot for a bench result.

Re-render a saved run: python bench/report.py RESULT.json [PLOT.png]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _num(v: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if v is None else fmt.format(v)


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def limits_lines(res: dict[str, Any]) -> list[str]:
    lim = res.get("limits", {})
    out = ["Physical limits, one core (same run):"]
    for key, label in (("rsa2048", "RSA-2048"), ("ed25519", "Ed25519")):
        o = lim.get("openssl", {}).get(key)
        if o:
            out.append(
                f"  openssl speed {label:9s} sign {o['sign']:>10,.0f}/s"
                f"  verify {o['verify']:>10,.0f}/s"
            )
    a = lim.get("argon2", {})
    if "rate" in a:
        out.append(
            f"  argon2 verify ({a['source']}: t={a['time_cost']}, m={a['memory_cost']} KiB, "
            f"p={a['parallelism']}) {a['rate']:,.1f}/s"
        )
    elif a:
        out.append(f"  argon2 verify: {a.get('unavailable') or a.get('error')}")
    return out


COLUMNS = (
    ("target", 6),
    ("scenario", 18),
    ("alg", 5),
    ("w", 2),
    ("rps", 8),
    ("p50 ms", 7),
    ("p99 ms", 7),
    ("errors", 6),
    ("limit", 8),
    ("ratio", 6),
    ("vs peer", 7),
    ("p99@80%", 16),
)


def table_lines(res: dict[str, Any]) -> list[str]:
    head = "  ".join(
        f"{name:>{w}}" if i > 2 else f"{name:<{w}}" for i, (name, w) in enumerate(COLUMNS)
    )
    lines = [head, "-" * len(head)]
    for r in res.get("rows", []):
        p80 = r.get("p80")
        p80s = "-"
        if p80 and p80.get("p99_ms") is not None:
            p80s = f"{p80['p99_ms']:.1f} ({p80['fraction'] * 100:.0f}%,c{p80['conns']})"
        cells = [
            r["target"],
            r["scenario"],
            r.get("alg") or "-",
            str(r.get("workers") or "-"),
        ]
        if r.get("status", "ok") != "ok":
            msg = f"{r['status']}: {r.get('note', '')}"
            lines.append(
                "  ".join(
                    f"{c:<{w}}" if i < 3 else f"{c:>{w}}"
                    for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS[:4], strict=True))
                )
                + "  "
                + msg
            )
            continue
        cells += [
            _num(r["rps"]),
            _num(r.get("p50_ms"), "{:.2f}"),
            _num(r.get("p99_ms"), "{:.2f}"),
            str(r.get("errors", 0)),
            _num(r.get("limit")),
            _ratio(r.get("ratio")),
            _ratio(r.get("vs_peer")),
            p80s,
        ]
        lines.append(
            "  ".join(
                f"{c:<{w}}" if i < 3 else f"{c:>{w}}"
                for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS, strict=True))
            )
        )
    lines.append("")
    lines.append(
        "rps = successful responses/s; limit = the scenario's crypto/argon2 bound on one "
        "core (see bench/README.md); ratio = rps/limit; vs peer = rps/peer rps."
    )
    return lines


def render(res: dict[str, Any]) -> str:
    return "\n".join([*limits_lines(res), "", *table_lines(res)])


def plot(res: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'): no plot"
    rows = [r for r in res.get("rows", []) if r.get("status", "ok") == "ok" and r.get("rps")]
    if not rows:
        return "nothing to plot"
    groups = sorted({r.get("workers") or 1 for r in rows if r["target"] == "issuer"} or {1})
    fig, axes = plt.subplots(len(groups), 1, figsize=(13, 4.8 * len(groups)), squeeze=False)
    for ax, w in zip(axes[:, 0], groups, strict=True):
        sel = [r for r in rows if r["target"] == "peer" or (r.get("workers") or 1) == w]
        labels = [
            f"{'peer ' if r['target'] == 'peer' else ''}{r['scenario']}\n{r.get('alg') or ''}"
            for r in sel
        ]
        xs = range(len(sel))
        colors = ["tab:orange" if r["target"] == "peer" else "tab:blue" for r in sel]
        ax.bar(xs, [r["rps"] for r in sel], color=colors)
        for x, r in zip(xs, sel, strict=True):
            ax.text(x, r["rps"], f"{r['rps']:,.0f}", ha="center", va="bottom", fontsize=7)
            if r.get("limit"):
                ax.hlines(r["limit"], x - 0.4, x + 0.4, colors="black", linewidth=2)
                ax.text(
                    x, r["limit"], f"limit {r['limit']:,.0f}", ha="center", va="bottom", fontsize=6
                )
        ax.set_yscale("log")
        ax.set_xticks(list(xs), labels, fontsize=7, rotation=45, ha="right")
        ax.set_ylabel("requests (tokens) / s, log")
        ax.set_title(
            f"issuer (blue, {w} worker{'s' if w > 1 else ''}) and peer (orange); "
            "black bar = one-core limit"
        )
    cfg = res.get("config", {})
    what = "peer only" if cfg.get("peer_only") else cfg.get("db", "")
    fig.suptitle(f"bench {res.get('started', '')} ({what})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    res = json.loads(Path(argv[0]).read_text())
    print(render(res))
    if len(argv) == 2:
        problem = plot(res, Path(argv[1]))
        if problem:
            print(problem, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
