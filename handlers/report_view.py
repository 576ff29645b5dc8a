"""The rates report (models/reports.py) as a chat message: the unit's figures, then one line per
direct child with its registration and self-assessment rates."""

from __future__ import annotations

from handlers import texts
from handlers.common import month_label
from handlers.text import fmt, number_vi, percent_vi
from models.reports import Rates, Report


def _ratio(template: str, n: int, total: int, **values: str) -> str:
    return fmt(
        template, n=number_vi(n), total=number_vi(total), percent=percent_vi(n, total), **values
    )


def _child_line(name: str, r: Rates) -> str:
    return fmt(
        texts.REPORT_CHILD_LINE,
        name=name,
        registered=number_vi(r.registered),
        required=number_vi(r.required),
        registered_percent=percent_vi(r.registered, r.required),
        assessed=number_vi(r.assessed),
        counted=number_vi(r.counted),
        assessed_percent=percent_vi(r.assessed, r.counted),
    )


def report_text(report: Report) -> str:
    r = report.unit.rates
    month = month_label(report.period)
    lines = [
        fmt(texts.REPORT_HEADER, unit=report.unit.name, year=report.year, month=month),
        "",
        fmt(
            texts.REPORT_MEMBERS,
            members=number_vi(r.members),
            exempt=number_vi(r.exempt),
            required=number_vi(r.required),
        ),
        _ratio(texts.REPORT_REGISTERED, r.registered, r.required),
        _ratio(texts.REPORT_APPROVED, r.approved, r.required),
        _ratio(texts.REPORT_ASSESSED, r.assessed, r.counted, month=month),
        fmt(
            texts.REPORT_ITEMS,
            done=number_vi(r.items_done),
            doing=number_vi(r.items_doing),
            not_yet=number_vi(r.items_not_yet),
        ),
        _ratio(texts.REPORT_CELLS, r.cells_reviewed, r.cells, month=month),
        fmt(
            texts.REPORT_MODELS,
            collective=number_vi(r.models_collective),
            individual=number_vi(r.models_individual),
            replicated=number_vi(r.models_replicated),
        ),
        fmt(
            texts.REPORT_EXEMPLARS,
            collective=number_vi(r.exemplars_collective),
            individual=number_vi(r.exemplars_individual),
            party=number_vi(r.exemplars_party),
            masses=number_vi(r.exemplars_masses),
        ),
    ]
    if report.children:
        lines += ["", fmt(texts.REPORT_CHILDREN, month=month)]
        lines += [_child_line(child.name, child.rates) for child in report.children]
        own = report.own
        if own.members:
            lines.append(_child_line(texts.REPORT_OWN.format(unit=report.unit.name), own))
    return "\n".join(lines)
