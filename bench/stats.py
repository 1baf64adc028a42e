"""Small statistics for repeated, interleaved runs, and how numbers are printed.

Repetitions on a shared 2-core VM are few (5-10) and not normal, so everything here is
order statistics: medians, min-max, and a bootstrap interval for the median of paired
ratios.  Ratios are taken per pair (runs adjacent in time), never as a ratio of two
medians, because the absolute level drifts from minute to minute while ratios hold."""
import math
import random
import statistics


def clean(values):
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def median(values):
    v = clean(values)
    return statistics.median(v) if v else None


def spread(values):
    """(median, min, max) or (None, None, None)."""
    v = clean(values)
    if not v:
        return None, None, None
    return statistics.median(v), min(v), max(v)


def paired_ratios(num, den):
    """num[i] / den[i] for the pairs where both exist."""
    return [a / b for a, b in zip(num, den) if a is not None and b]


def bootstrap_median(values, resamples=4000, level=0.95, seed=1):
    """Percentile-bootstrap interval of the median (seeded: reports are reproducible)."""
    v = clean(values)
    if len(v) < 2:
        return (v[0], v[0]) if v else (None, None)
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(v, k=len(v))) for _ in range(resamples))
    lo = meds[int((1 - level) / 2 * (resamples - 1))]
    hi = meds[int((1 + level) / 2 * (resamples - 1))]
    return lo, hi


# --- formatting ---------------------------------------------------------------------

def fmt_rate(v):
    if v is None:
        return "-"
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return "%.*f%s" % (2 if abs(v) < 10 * div else 1, v / div, suffix)
    return "%.0f" % v


def fmt_us(v):
    """A latency given in microseconds."""
    if v is None:
        return "-"
    if v >= 1e6:
        return "%.2f s" % (v / 1e6)
    if v >= 1e3:
        return "%.*f ms" % (2 if v < 1e4 else 1, v / 1e3)
    return "%.*f µs" % (2 if v < 10 else 1, v)


def fmt_num(v, digits=2):
    return "-" if v is None else "%.*f" % (digits, v)


def fmt_pct(v):
    return "-" if v is None else "%.0f%%" % v


def fmt_range(values, fmt=fmt_rate):
    med, lo, hi = spread(values)
    if med is None:
        return "-"
    if len(clean(values)) == 1:
        return fmt(med)
    return "%s [%s–%s]" % (fmt(med), fmt(lo), fmt(hi))


def fmt_ratio(ratios):
    med, lo, hi = spread(ratios)
    if med is None:
        return "-"
    if len(clean(ratios)) == 1:
        return "%.2f×" % med
    return "%.2f× [%.2f–%.2f]" % (med, lo, hi)


def fmt_change(ratio):
    """A ratio new/base as a signed percentage."""
    return "-" if ratio is None else "%+.1f%%" % ((ratio - 1) * 100)


def fmt_duration(s):
    s = int(round(s))
    if s >= 3600:
        return "%dh%02dm" % (s // 3600, s % 3600 // 60)
    if s >= 60:
        return "%dm%02ds" % (s // 60, s % 60)
    return "%ds" % s


def text_table(header, rows):
    """A plain-text table with columns padded to width."""
    cols = [header] + rows
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in cols]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(header, rows, align=None):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join((align or {}).get(i, "---") for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)
