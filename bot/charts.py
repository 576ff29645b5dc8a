"""Pictures for channels that can show them: the digest's bar chart as a PNG."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import matplotlib.pyplot as plt

COLOURS = ("#2e7d32", "#f9a825", "#c62828", "#78909c", "#1565c0")


def bar_chart_png(chart: dict[str, Any]) -> bytes:
    """A horizontal bar chart with a value at the end of each bar (DejaVu Sans has the
    Vietnamese letters)."""
    bars = [(str(label), float(value)) for label, value in chart["bars"]]
    fig, ax = plt.subplots(figsize=(6, 0.6 * len(bars) + 1.2), dpi=120)
    try:
        labels = [label for label, _ in bars][::-1]
        values = [value for _, value in bars][::-1]
        colours = [COLOURS[i % len(COLOURS)] for i in range(len(bars))][::-1]
        ax.barh(labels, values, color=colours)
        for y, value in enumerate(values):
            ax.text(value, y, f" {value:g}", va="center")
        ax.set_title(str(chart.get("title", "")))
        ax.set_xlim(0, max([*values, 1]) * 1.15)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)


def chart_as_text(chart: dict[str, Any]) -> str:
    """The same figures for a channel without pictures."""
    bars = " · ".join(f"{label}: {value:g}" for label, value in chart["bars"])
    return f"{chart.get('title', '')}: {bars}"
