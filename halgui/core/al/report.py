"""Reports of a simulation: CSV, a Markdown table, a PNG plot, and the three claims.

Rows of the same strategy and round index are aggregated over seeds (mean and standard
deviation). The claims are those of algorithm.md 7, each stated as holds / does not hold with
the numbers that decide it.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from halgui.core.al.simulate import METRICS, Row

PRIMARY = "frame_map@0.5_voc"


@dataclass
class Point:
    strategy: str
    round: int
    frames_pct: float
    boxes_pct: float
    mean: dict[str, float]
    std: dict[str, float]
    seeds: int
    clusters: tuple[tuple[int, ...], ...] = ()  # each seed's cluster sizes, largest first


def aggregate(rows: Sequence[Row]) -> list[Point]:
    groups: dict[tuple[str, int], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row.strategy, row.round)].append(row)
    points = []
    for (strategy, rnd), group in sorted(groups.items()):
        mean, std = {}, {}
        for m in METRICS:
            values = [r.metrics[m] for r in group if r.metrics.get(m) is not None]
            mean[m] = float(np.mean(values)) if values else math.nan
            std[m] = float(np.std(values)) if values else math.nan
        points.append(Point(strategy, rnd, float(np.mean([r.frames_pct for r in group])),
                            float(np.mean([r.boxes_pct for r in group])), mean, std, len(group),
                            tuple(tuple(sorted(r.clusters, reverse=True)) for r in group
                                  if r.clusters)))
    return points


def write_csv(rows: Sequence[Row], path: Path) -> None:
    flat = [r.flat() for r in rows]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(flat[0]) if flat else ["strategy"])
        writer.writeheader()
        writer.writerows(flat)


def markdown(points: Sequence[Point]) -> str:
    """The table of results; "cluster sizes" lists each seed's pool videos per cluster, largest
    first (one number near the pool size: the clusters collapsed and the quota did nothing)."""
    lines = ["| strategy | round | % frames | % boxes | " + " | ".join(METRICS)
             + " | seeds | cluster sizes |",
             "|---|---:|---:|---:|" + "---:|" * len(METRICS) + "---:|---|"]
    for p in points:
        cells = [f"{100 * p.mean[m]:.1f} ± {100 * p.std[m]:.1f}" if not math.isnan(p.mean[m])
                 else "n/a" for m in METRICS]
        sizes = " / ".join(" ".join(map(str, s)) for s in p.clusters)
        lines.append(f"| {p.strategy} | {p.round} | {p.frames_pct:.2f} | {p.boxes_pct:.2f} | "
                     + " | ".join(cells) + f" | {p.seeds} | {sizes} |")
    return "\n".join(lines)


def claims(points: Sequence[Point], metric: str = PRIMARY) -> list[tuple[str, bool | None, str]]:
    """The claims of algorithm.md 7: (statement, holds?, the numbers). None: not measured."""
    by = defaultdict(list)
    for p in points:
        by[p.strategy].append(p)
    out: list[tuple[str, bool | None, str]] = []
    ref = by.get("reference")
    claus = sorted(by.get("claus", []), key=lambda p: p.frames_pct)
    if ref and claus:
        ceiling = ref[0].mean[metric]
        at5 = [p for p in claus if p.frames_pct <= 5.0 + 1e-9]
        best = max((p.mean[metric] for p in at5), default=math.nan)
        ok = bool(best >= 0.95 * ceiling) if at5 else None
        out.append(("claus reaches >= 95% of the 100%-label model at <= 5% of frames", ok,
                    f"best claus at <= 5%: {best:.4f}; 95% of reference {ceiling:.4f} = "
                    f"{0.95 * ceiling:.4f}"))
    else:
        out.append(("claus reaches >= 95% of the 100%-label model at <= 5% of frames", None,
                    "needs claus and the reference"))
    for baseline in ("random", "uniform"):
        out.append(_above(claus, by.get(baseline, []), baseline, metric, every_round=True))
    for ablation in ("claus-no-cluster", "claus-no-stew"):
        out.append(_above(claus, by.get(ablation, []), ablation, metric, every_round=False))
    return out


def _above(claus: list[Point], other: list[Point], name: str, metric: str,
           every_round: bool) -> tuple[str, bool | None, str]:
    statement = (f"claus above {name} at every budget" if every_round
                 else f"claus above {name} (mean over rounds after round 0)")
    if not claus or not other:
        return statement, None, f"needs claus and {name}"
    theirs = {p.round: p.mean[metric] for p in other}
    pairs = [(p.round, p.mean[metric], theirs[p.round]) for p in claus if p.round in theirs
             and p.round > 0]
    if not pairs:
        return statement, None, "no common rounds"
    if every_round:
        ok = all(a > b for _, a, b in pairs)
        detail = "; ".join(f"r{r}: {a:.4f} vs {b:.4f}" for r, a, b in pairs)
    else:
        a, b = float(np.mean([x[1] for x in pairs])), float(np.mean([x[2] for x in pairs]))
        ok, detail = a > b, f"{a:.4f} vs {b:.4f}"
    return statement, ok, detail


def plot(points: Sequence[Point], path: Path, metric: str = PRIMARY) -> None:
    """Metric vs % frames labeled, one line per strategy, the spread over seeds shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    by = defaultdict(list)
    for p in points:
        by[p.strategy].append(p)
    for strategy, pts in sorted(by.items()):
        if strategy == "reference":
            ax.axhline(pts[0].mean[metric], color="black", linestyle="--",
                       label="reference (100% labeled)")
            continue
        pts = sorted(pts, key=lambda p: p.frames_pct)
        x = [p.frames_pct for p in pts]
        y = np.array([p.mean[metric] for p in pts])
        s = np.array([p.std[metric] for p in pts])
        (line,) = ax.plot(x, y, marker="o", markersize=3, label=strategy,
                          linewidth=2.2 if strategy == "claus" else 1.2)
        ax.fill_between(x, y - s, y + s, color=line.get_color(), alpha=0.12)
    ax.set_xlabel("% of pool frames labeled")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
