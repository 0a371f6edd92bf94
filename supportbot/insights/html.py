"""The report as one self-contained HTML page: inline CSS and SVG charts, no script and
nothing fetched, so it reads the same offline, attached to an email, or served by `serve`.
Pure: report data in, a string out."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["STYLE_HASH", "render_html"]

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #f6f7f9;
  margin: 0; padding: 20px; }
main { max-width: 1000px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 14px; color: #6b7383; text-transform: uppercase; letter-spacing: .04em; margin: 18px 0 6px; }
.muted { color: #6b7383; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
.card { background: #fff; border: 1px solid #e3e6eb; border-radius: 8px; padding: 8px 10px; }
.card b { display: block; font-size: 20px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; }
figure { margin: 0; background: #fff; border: 1px solid #e3e6eb; border-radius: 8px; padding: 8px; }
figcaption { font-size: 13px; color: #6b7383; margin-bottom: 4px; }
svg { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e6eb; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.legend span { display: inline-block; margin-right: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
.swatch.blue { background: #2f6fed; } .swatch.orange { background: #e8871e; } .swatch.grey { background: #9aa3b2; }
"""
_BLUE, _ORANGE, _GREY = "#2f6fed", "#e8871e", "#9aa3b2"
_SWATCH = {_BLUE: "blue", _ORANGE: "orange", _GREY: "grey"}
#: The page's one style block, for a Content-Security-Policy that allows it and nothing
#: else inline (the agent console opens the report from its own origin).
STYLE_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode() + "'"


def render_html(report: dict[str, Any]) -> str:
    window = f"since {report['since']}" if report["since"] else "all time"
    bots = "".join(_bot_section(bot) for bot in report["bots"]) or "<p>No conversations in this window.</p>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>supportbot report</title><style>{_CSS}</style></head><body><main>"
        f'<h1>supportbot report</h1><p class="muted">{escape(window)}, until {escape(report["until"])}</p>'
        f"{bots}</main></body></html>"
    )


def _bot_section(bot: dict[str, Any]) -> str:
    totals = bot["totals"]
    model = bot["model"] or "no model (offline answers)"
    return (
        f'<section data-bot="{escape(bot["bot"])}"><h2>{escape(bot["bot"])}</h2>'
        f'<p class="muted">model: {escape(model)}</p>'
        f"{_cards(totals, bot['price_known'])}"
        '<div class="charts">'
        f"{_containment_chart(bot['days'])}{_reasons_chart(bot['handoffs'])}{_latency_chart(bot['days'])}"
        "</div>"
        f"<h3>Per day</h3>{_day_table(bot['days'])}"
        f"<h3>Most cited snippets</h3>{_cited_table(bot['most_cited'])}"
        f"<h3>Least cited snippets</h3>{_cited_table(bot['least_cited'])}"
        f"<h3>Answers that did not help</h3>{_missed_table(bot['did_not_help'])}"
        "</section>"
    )


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _cards(totals: dict[str, Any], price_known: bool) -> str:
    cost = totals["cost_usd"]
    items = [
        ("Conversations", f"{totals['conversations']:,}"),
        ("Containment", _percent(totals["containment"])),
        ("Turns", f"{totals['turns']:,}"),
        ("Hand-offs", f"{totals['handoffs']:,}"),
        ("Unanswered", f"{totals['unanswered']:,}"),
        ("Clarified / picked", f"{totals['clarifications_offered']:,} / {totals['clarifications_picked']:,}"),
        ("Small talk", _percent(totals["small_talk_share"])),
        ("Feedback up / down", f"{totals['feedback_up']:,} / {totals['feedback_down']:,}"),
        ("Latency p50 / p95", f"{_ms(totals['latency_p50_ms'])} / {_ms(totals['latency_p95_ms'])}"),
        ("Tokens in / out", f"{totals['prompt_tokens']:,} / {totals['completion_tokens']:,}"),
        ("Cost", f"${cost:,.4f}" if cost is not None else "no price" if not price_known else "–"),
    ]
    cards = "".join(
        f'<div class="card"><span class="muted">{escape(k)}</span><b>{escape(v)}</b></div>' for k, v in items
    )
    return f'<div class="cards">{cards}</div>'


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _frame(caption: str, body: str, legend: Sequence[tuple[str, str]] = ()) -> str:
    keys = "".join(f'<span><i class="swatch {_SWATCH[c]}"></i>{escape(t)}</span>' for t, c in legend)
    legend_html = f'<div class="legend">{keys}</div>' if keys else ""
    return f"<figure><figcaption>{escape(caption)}</figcaption>{body}{legend_html}</figure>"


def _svg(inner: str, height: int = 160) -> str:
    return f'<svg viewBox="0 0 320 {height}" role="img" xmlns="http://www.w3.org/2000/svg">{inner}</svg>'


def _containment_chart(days: list[dict[str, Any]]) -> str:
    """Hand-offs per day as bars, containment as a line (0 to 100% on the right)."""
    if not days:
        return _frame("Containment and hand-offs per day", "<p class='muted'>No days.</p>")
    top = max(max(d["handoffs"] for d in days), 1)
    width = 280 / len(days)
    bars, points = [], []
    for i, day in enumerate(days):
        x = 20 + i * width
        h = 120 * day["handoffs"] / top
        bars.append(
            f'<rect x="{x + width * 0.15:.1f}" y="{140 - h:.1f}" width="{width * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{_ORANGE}"><title>{escape(day["day"])}: {day["handoffs"]} hand-offs</title></rect>'
        )
        if day["containment"] is not None:
            points.append(f"{x + width / 2:.1f},{140 - 120 * day['containment']:.1f}")
    line = f'<polyline points="{" ".join(points)}" fill="none" stroke="{_BLUE}" stroke-width="2"/>' if points else ""
    axis = f'<line x1="20" y1="140" x2="300" y2="140" stroke="{_GREY}"/>' + _day_labels(days, width)
    legend = [("hand-offs", _ORANGE), ("containment (0–100%)", _BLUE)]
    return _frame("Containment and hand-offs per day", _svg("".join(bars) + line + axis), legend)


def _day_labels(days: list[dict[str, Any]], width: float) -> str:
    step = max(1, len(days) // 6)
    return "".join(
        f'<text x="{20 + i * width + width / 2:.1f}" y="154" font-size="9" text-anchor="middle" fill="{_GREY}">'
        f"{escape(day['day'][5:])}</text>"
        for i, day in enumerate(days)
        if i % step == 0
    )


def _reasons_chart(handoffs: list[dict[str, Any]]) -> str:
    shown = handoffs[:8]
    if not shown:
        return _frame("Hand-offs by reason", "<p class='muted'>No hand-offs.</p>")
    top = max(h["count"] for h in shown)
    rows = []
    for i, handoff in enumerate(shown):
        y = 6 + i * 19
        w = 170 * handoff["count"] / top
        rows.append(
            f'<text x="0" y="{y + 11}" font-size="10" fill="#1d2330">{escape(str(handoff["rule"])[:24])}</text>'
            f'<rect x="120" y="{y}" width="{w:.1f}" height="14" fill="{_ORANGE}">'
            f"<title>{escape(str(handoff['reason']))}</title></rect>"
            f'<text x="{124 + w:.1f}" y="{y + 11}" font-size="10" fill="{_GREY}">{handoff["count"]}</text>'
        )
    return _frame("Hand-offs by reason", _svg("".join(rows), 12 + 19 * len(shown)))


def _latency_chart(days: list[dict[str, Any]]) -> str:
    measured = [d for d in days if d["latency_p95_ms"] is not None]
    if not measured:
        return _frame("Turn latency per day", "<p class='muted'>No turns.</p>")
    top = max(d["latency_p95_ms"] for d in measured) or 1.0
    width = 280 / len(measured)
    bars = []
    for i, day in enumerate(measured):
        x = 20 + i * width
        for value, colour, offset in ((day["latency_p95_ms"], _GREY, 0.1), (day["latency_p50_ms"], _BLUE, 0.45)):
            h = 120 * value / top
            bars.append(
                f'<rect x="{x + width * offset:.1f}" y="{140 - h:.1f}" width="{width * 0.35:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(day["day"])}: {value} ms</title></rect>'
            )
    axis = f'<line x1="20" y1="140" x2="300" y2="140" stroke="{_GREY}"/>' + _day_labels(measured, width)
    caption = f"Turn latency per day (top: {_ms(top)})"
    return _frame(caption, _svg("".join(bars) + axis), [("p95", _GREY), ("p50", _BLUE)])


def _day_table(days: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in _DAY_COLUMNS)
    rows = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in _day_cells(d)) + "</tr>" for d in days)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


_DAY_COLUMNS = (
    "Day", "Conversations", "Containment", "Turns", "Hand-offs", "Unanswered", "Clarified", "Picked", "Small talk",
    "Rated up", "Rated down", "p50", "p95", "Cost",
)  # fmt: skip


def _day_cells(d: dict[str, Any]) -> tuple[object, ...]:
    cost = "–" if d["cost_usd"] is None else f"${d['cost_usd']:.4f}"
    return (
        d["day"], d["conversations"], _percent(d["containment"]), d["turns"], d["handoffs"], d["unanswered"],
        d["clarifications_offered"], d["clarifications_picked"], _percent(d["small_talk_share"]),
        d["feedback_up"], d["feedback_down"], _ms(d["latency_p50_ms"]), _ms(d["latency_p95_ms"]), cost,
    )  # fmt: skip


def _cited_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p class='muted'>No answers cited a snippet.</p>"
    body = "".join(
        f"<tr><td>{escape(r['snippet'])}</td><td>{escape(r['title'] or '')}</td><td>{r['answers']}</td></tr>"
        for r in rows
    )
    return f"<table><thead><tr><th>Snippet</th><th>Title</th><th>Answers</th></tr></thead><tbody>{body}</tbody></table>"


def _missed_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p class='muted'>No customer said an answer did not help, and none was rated down.</p>"
    body = "".join(
        f"<tr><td>{escape(r['snippet'])}</td><td>{escape(r['title'] or '')}</td><td>{r['answers']}</td>"
        f"<td>{r['not_helped']}</td><td>{r['rated_down']}</td></tr>"
        for r in rows
    )
    head = "<tr><th>Snippet</th><th>Title</th><th>Answers</th><th>Said it did not help</th><th>Rated down</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"
