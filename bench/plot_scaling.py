"""Draws the scaling series of `npm run bench` (bench/scaling.ts writes the points).

    python3 bench/plot_scaling.py <points.json> <out.png>

points.json: a list of {"n": 9, "side": "stack" | "baseline", "phase": "cold" | "no-op" | ...,
"wall_s": 12.3, "requests": 456}. Two panels against N: wall time and registry requests, one
line per side and phase. Needs matplotlib (bench/scaling.ts installs it into bench/out/plot-venv).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write the PNG only
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"stack": "-", "baseline": "--"}
MARKER = {"cold": "o", "no-op": "s", "preview": "^"}


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8") as handle:
        points = json.load(handle)
    if not points:
        raise SystemExit(f"plot_scaling: no points in {source}")
    series: dict[tuple[str, str], list[dict]] = {}
    for point in points:
        series.setdefault((point["side"], point["phase"]), []).append(point)
    ns = sorted({point["n"] for point in points})
    fig, (wall, requests) = plt.subplots(1, 2, figsize=(11, 4.5))
    for (side, phase), rows in sorted(series.items()):
        rows.sort(key=lambda row: row["n"])
        x = [row["n"] for row in rows]
        style = dict(linestyle=STYLE.get(side, ":"), marker=MARKER.get(phase, "x"))
        label = f"{side} {phase}"
        wall.plot(x, [row["wall_s"] for row in rows], label=label, **style)
        requests.plot(x, [row["requests"] for row in rows], label=label, **style)
    # Linear from the smallest N: what the stack's cold release would cost at a constant per-service time.
    cold = sorted(series.get(("stack", "cold"), []), key=lambda row: row["n"])
    if cold:
        first = cold[0]
        wall.plot(
            ns,
            [first["wall_s"] / first["n"] * n for n in ns],
            color="grey",
            linewidth=0.8,
            linestyle=":",
            label=f"stack cold, linear from N={first['n']}",
        )
    for axis, title, unit in (
        (wall, "Wall time", "seconds"),
        (requests, "Registry requests", "requests"),
    ):
        axis.set_title(f"{title} against services released")
        axis.set_xlabel("services released (N)")
        axis.set_ylabel(unit)
        axis.set_xticks(ns)
        axis.set_xlim(0, max(ns) * 1.05)
        axis.set_ylim(bottom=0)
        axis.grid(True, alpha=0.3)
    wall.legend(fontsize="small")
    fig.suptitle("npm run bench: scaling series (one run per N)")
    fig.tight_layout()
    fig.savefig(target, dpi=100)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: plot_scaling.py <points.json> <out.png>")
    main(sys.argv[1], sys.argv[2])
