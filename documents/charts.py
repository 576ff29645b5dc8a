"""Pictures for channels that can show them: the digest's bar chart and the rates report's
chart as PNG. A chart is a JSON spec; chart_png() draws any kind, chart_as_text() says it."""

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


def _short(label: str, limit: int = 38) -> str:
    """A unit name as a tick label: cut when long, "$" kept literal (not mathtext)."""
    label = label if len(label) <= limit else label[: limit - 1] + "…"
    return label.replace("$", r"\$")


def _pct_vi(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%".replace(".", ",")


def rates_chart_png(chart: dict[str, Any]) -> bytes:
    """The rates report (bot/report_files.report_chart): registration and self-assessment
    percent per unit as paired horizontal bars, and the monthly self-assessment percent."""
    from handlers import texts

    units = [
        (_short(str(name)), float(reg or 0), float(ass or 0), reg is None, ass is None)
        for name, reg, ass in chart["units"]
    ][::-1]
    trend = [(str(label), value) for label, value in chart["trend"]]
    top = 0.5 * len(units) + 1.4
    fig, (bars, line) = plt.subplots(
        2,
        1,
        figsize=(7.5, top + 3.0),
        dpi=110,
        gridspec_kw={"height_ratios": [top, 3.0]},
    )
    try:
        ys = list(range(len(units)))
        h = 0.38
        reg_y = [y + h / 2 for y in ys]
        ass_y = [y - h / 2 for y in ys]
        bars.barh(
            reg_y, [u[1] for u in units], h, color=COLOURS[4], label=texts.REPORT_CHART_REGISTERED
        )
        bars.barh(
            ass_y, [u[2] for u in units], h, color=COLOURS[0], label=texts.REPORT_CHART_ASSESSED
        )
        for u, yr, ya in zip(units, reg_y, ass_y, strict=True):
            bars.text(u[1], yr, " " + _pct_vi(None if u[3] else u[1]), va="center", fontsize=8)
            bars.text(u[2], ya, " " + _pct_vi(None if u[4] else u[2]), va="center", fontsize=8)
        bars.set_yticks(ys, [u[0] for u in units])
        bars.set_xlim(0, 115)
        bars.set_xticks([0, 25, 50, 75, 100])
        bars.set_title(str(chart.get("title", "")).replace("$", r"\$"))
        bars.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, fontsize=8, frameon=False
        )
        bars.spines[["top", "right"]].set_visible(False)

        xs = list(range(len(trend)))
        points = [(x, v) for x, (_, v) in zip(xs, trend, strict=True) if v is not None]
        line.plot([x for x, _ in points], [v for _, v in points], marker="o", color=COLOURS[0])
        for x, v in points:
            line.annotate(
                _pct_vi(v), (x, v), textcoords="offset points", xytext=(0, 6), ha="center"
            )
        line.set_xticks(xs, [label for label, _ in trend])
        line.set_ylim(0, 110)
        line.set_title(texts.REPORT_CHART_TREND, fontsize=10)
        line.grid(axis="y", alpha=0.3)
        line.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)


def chart_png(chart: dict[str, Any]) -> bytes:
    """Any chart spec as a PNG, by its "kind" (none: the digest's bar chart)."""
    if chart.get("kind") == "rates":
        return rates_chart_png(chart)
    return bar_chart_png(chart)


def chart_as_text(chart: dict[str, Any]) -> str:
    """The same figures for a channel without pictures."""
    if chart.get("kind") == "rates":
        from handlers import texts

        units = " · ".join(
            texts.REPORT_CHART_UNIT_TEXT.format(
                name=name, registered=_pct_vi(reg), assessed=_pct_vi(ass)
            )
            for name, reg, ass in chart["units"]
        )
        months = ", ".join(f"{label}: {_pct_vi(value)}" for label, value in chart["trend"])
        trend = texts.REPORT_CHART_TREND_TEXT.format(months=months)
        return f"{chart.get('title', '')}: {units}. {trend}"
    bars = " · ".join(f"{label}: {value:g}" for label, value in chart["bars"])
    return f"{chart.get('title', '')}: {bars}"
