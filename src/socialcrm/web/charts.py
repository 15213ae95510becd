"""Charts drawn on the server as SVG: no JavaScript, nothing for the CSP to allow.

Colours come from CSS classes in ``static/app.css``; every label is escaped, since
labels can come from social text (topics, handles).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

W, H = 640, 220
PAD_L, PAD_R, PAD_T, PAD_B = 48, 12, 12, 28


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start, end = math.floor(lo / step) * step, math.ceil(hi / step) * step
    return [start + i * step for i in range(round((end - start) / step) + 1)]


def _fmt(v: float) -> str:
    if abs(v) >= 1_000_000:
        return f"{v / 1e6:.1f}M"
    if abs(v) >= 1000:
        return f"{v / 1e3:.0f}k"
    return f"{v:.2f}".rstrip("0").rstrip(".") if v != int(v) else f"{int(v)}"


def _frame(title: str, body: list[str], w: int = W, h: int = H) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    bars: Sequence[float] | None = None,
    y_min: float | None = None,
    width: int = W,
) -> Markup:
    """Lines (one per series, class ``s0``, ``s1``…) over optional bars (volume)."""
    n = len(x_labels)
    if n == 0:
        return Markup("")
    values = [v for s in series.values() for v in s if v is not None] + list(bars or [])
    lo = min([*values, 0.0]) if y_min is None else y_min
    hi = max([*values, lo + 1e-9])
    ticks = _ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    iw, ih = width - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(i: float) -> float:
        return PAD_L + (i + 0.5) * iw / n

    def y(v: float) -> float:
        return PAD_T + ih - (v - lo) / (hi - lo) * ih

    body = []
    for t in ticks:
        body.append(
            f'<line class="grid" x1="{PAD_L}" x2="{width - PAD_R}" y1="{y(t):.1f}" '
            f'y2="{y(t):.1f}"/>'
            f'<text class="axis" x="{PAD_L - 6}" y="{y(t) + 4:.1f}" text-anchor="end">'
            f"{_fmt(t)}</text>"
        )
    if bars:
        bw = max(iw / n * 0.8, 1)
        for i, v in enumerate(bars):
            body.append(
                f'<rect class="bar" x="{x(i) - bw / 2:.1f}" y="{y(v):.1f}" width="{bw:.1f}" '
                f'height="{max(y(lo) - y(v), 0):.1f}"><title>{escape(x_labels[i])}: '
                f"{_fmt(v)}</title></rect>"
            )
    for k, (name, s) in enumerate(series.items()):
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s) if v is not None)
        body.append(
            f'<polyline class="line s{k}" points="{pts}"><title>{escape(name)}</title></polyline>'
        )
    step = max(n // (6 * width // W), 1)
    for i in range(0, n, step):
        body.append(
            f'<text class="axis" x="{x(i):.1f}" y="{H - 8}" text-anchor="middle">'
            f"{escape(x_labels[i])}</text>"
        )
    return _frame(title, body, width)


def bar_list(title: str, items: Sequence[tuple[str, float]], *, fmt: str = "{:,.0f}") -> Markup:
    """Horizontal bars with their labels and values: ranked lists (topics, segments)."""
    if not items:
        return Markup("")
    row, label_w, w = 26, 220, W
    h = row * len(items) + 8
    top = max(v for _, v in items) or 1
    body = []
    for i, (label, v) in enumerate(items):
        yy = 4 + i * row
        bw = max((w - label_w - 80) * v / top, 1)
        text = str(label)
        short = text if len(text) <= 32 else text[:31] + "…"
        body.append(
            f'<text class="label" x="{label_w - 8}" y="{yy + 16}" text-anchor="end">'
            f"<title>{escape(text)}</title>{escape(short)}</text>"
            f'<rect class="bar s{i % 6}" x="{label_w}" y="{yy + 3}" width="{bw:.1f}" '
            f'height="{row - 8}" rx="3"/>'
            f'<text class="value" x="{label_w + bw + 6:.1f}" y="{yy + 16}">'
            f"{escape(fmt.format(v))}</text>"
        )
    return _frame(title, body, w, h)


def scatter(
    title: str,
    points: Sequence[tuple[float, float, float, str]],
    *,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    labelled: bool = False,
) -> Markup:
    """Bubbles at (x, y) with area ~ size: the TRInity map and the community map.

    ``labelled`` writes each bubble's label beside it (for a dozen bubbles, not hundreds);
    otherwise the label is the bubble's tooltip only.
    """
    if not points:
        return Markup("")

    def tx(v: float) -> float:
        return math.log10(1 + max(v, 0)) if log_x else v

    xs, ys = [tx(p[0]) for p in points], [p[1] for p in points]
    x_lo, x_hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y_lo, y_hi = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    s_hi = max(p[2] for p in points) or 1
    inset = 18  # room for the largest bubble inside the frame
    iw, ih = W - PAD_L - PAD_R - 2 * inset, H - PAD_T - PAD_B - 2 * inset
    body = [
        f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{H - PAD_B}" y2="{H - PAD_B}"/>',
        f'<line class="grid" x1="{PAD_L}" x2="{PAD_L}" y1="{PAD_T}" y2="{H - PAD_B}"/>',
        f'<text class="axis" x="{W - PAD_R}" y="{H - 8}" text-anchor="end">'
        f"{escape(x_label)}</text>",
        f'<text class="axis" x="{PAD_L + 6}" y="{PAD_T + 10}">{escape(y_label)}</text>',
    ]
    for (xv, yv, size, label), px, py in zip(points, xs, ys, strict=True):
        cx = PAD_L + inset + (px - x_lo) / (x_hi - x_lo) * iw
        cy = PAD_T + inset + ih - (py - y_lo) / (y_hi - y_lo) * ih
        r = 2 + 14 * math.sqrt(max(size, 0) / s_hi)
        body.append(
            f'<circle class="dot" cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}"><title>'
            f"{escape(label)}: {_fmt(xv)}, {_fmt(yv)}</title></circle>"
        )
        if labelled:
            short = label if len(label) <= 22 else label[:21] + "…"
            right = cx < W - PAD_R - 140  # near the right edge the label goes left
            body.append(
                f'<text class="label" x="{cx + (r + 3 if right else -r - 3):.1f}" '
                f'y="{cy + 4:.1f}" text-anchor="{"start" if right else "end"}">'
                f"{escape(short)}</text>"
            )
    return _frame(title, body)


def trend(
    title: str,
    x_labels: Sequence[str],
    values: Sequence[float | None],
    *,
    fmt: str = "{:,.0f}",
    width: int = 320,
    height: int = 120,
) -> Markup:
    """A small line with a dot per point and its first and last labels: one series over
    time, drawn small enough to put one per segment side by side (small multiples).

    A single point (one run so far) is still drawn, as a dot.
    """
    n = len(x_labels)
    known = [v for v in values if v is not None]
    if n == 0 or not known:
        return Markup("")
    lo, hi = min([*known, 0.0]), max(known)
    if hi <= lo:
        hi = lo + 1
    pad_l, pad_r, pad_t, pad_b = 40, 10, 10, 22
    iw, ih = width - pad_l - pad_r, height - pad_t - pad_b

    def x(i: int) -> float:
        return pad_l + (i + 0.5) * iw / n

    def y(v: float) -> float:
        return pad_t + ih - (v - lo) / (hi - lo) * ih

    body = [
        f'<line class="grid" x1="{pad_l}" x2="{width - pad_r}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
        f'<text class="axis" x="{pad_l - 4}" y="{y(t) + 4:.1f}" text-anchor="end">'
        f"{_fmt(t)}</text>"
        for t in (lo, hi)
    ]
    pts = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
    body.append(
        '<polyline class="line s2" points="'
        + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
        + f'"><title>{escape(title)}</title></polyline>'
    )
    for i, v in enumerate(values):
        if v is not None:
            body.append(
                f'<circle class="dot" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5"><title>'
                f"{escape(x_labels[i])}: {escape(fmt.format(v))}</title></circle>"
            )
    for i in sorted({0, n - 1}):
        body.append(
            f'<text class="axis" x="{x(i):.1f}" y="{height - 6}" text-anchor="middle">'
            f"{escape(x_labels[i])}</text>"
        )
    return _frame(title, body, width, height)


def intervals(
    title: str,
    rows: Sequence[tuple[str, float, float | None, float | None]],
    *,
    fmt: str = "{:,.1f}",
) -> Markup:
    """Estimates with their intervals, one row each: a bar from zero to the estimate and a
    whisker from the interval's low to its high end (conversion rates of the treated
    group and the holdout; incremental revenue, its cost and what is left). Negative
    values go left of the zero line."""
    if not rows:
        return Markup("")
    row, label_w, w = 34, 136, 440  # narrow: legible when a phone shrinks it
    h = row * len(rows) + 26
    ends = [v for _, e, lo, hi in rows for v in (e, lo, hi) if v is not None]
    lo_all, hi_all = min([*ends, 0.0]), max([*ends, 0.0])
    if hi_all <= lo_all:
        hi_all = lo_all + 1
    left, right = label_w, w - 64

    def x(v: float) -> float:
        return left + (v - lo_all) / (hi_all - lo_all) * (right - left)

    body = [
        f'<line class="grid" x1="{x(0):.1f}" x2="{x(0):.1f}" y1="2" y2="{h - 22}"/>'
        f'<text class="axis" x="{x(0):.1f}" y="{h - 6}" text-anchor="middle">0</text>'
    ]
    for i, (label, est, lo, hi) in enumerate(rows):
        yy = 4 + i * row
        mid = yy + (row - 8) / 2
        a, b = sorted((x(0), x(est)))
        text = str(label)
        body.append(
            f'<text class="label" x="{label_w - 8}" y="{mid + 4:.1f}" text-anchor="end">'
            f"<title>{escape(text)}</title>{escape(text[:20])}</text>"
            f'<rect class="bar s{i % 6}" x="{a:.1f}" y="{yy + 6}" width="{max(b - a, 1):.1f}" '
            f'height="{row - 20}" rx="3"><title>{escape(text)}: {escape(fmt.format(est))}'
            "</title></rect>"
        )
        if lo is not None and hi is not None:
            body.append(
                f'<line class="whisker" x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{mid:.1f}" '
                f'y2="{mid:.1f}"/><line class="whisker" x1="{x(lo):.1f}" x2="{x(lo):.1f}" '
                f'y1="{mid - 6:.1f}" y2="{mid + 6:.1f}"/><line class="whisker" '
                f'x1="{x(hi):.1f}" x2="{x(hi):.1f}" y1="{mid - 6:.1f}" y2="{mid + 6:.1f}"/>'
            )
        body.append(
            f'<text class="value" x="{max(x(est), x(hi) if hi is not None else 0) + 6:.1f}" '
            f'y="{mid + 4:.1f}">{escape(fmt.format(est))}</text>'
        )
    return _frame(title, body, w, h)
