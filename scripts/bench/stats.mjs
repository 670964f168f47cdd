// Summary statistics and the printed tables of `npm run bench`.

/** Linear-interpolated quantile (the "type 7" estimator of R and numpy) of sorted samples. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const round = (x) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);

/** @param {number[]} samples milliseconds */
export function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    n: s.length,
    median: round(quantile(s, 0.5)),
    p90: round(quantile(s, 0.9)),
    mean: round(s.length ? mean : NaN),
    min: round(s[0] ?? NaN),
    max: round(s[s.length - 1] ?? NaN),
  };
}

/** Ratio of medians and of p90s of `impl` against `base` for one op, or null when either is missing. */
export function ratio(rows, suite, op, impl, base) {
  const a = rows.find((r) => r.suite === suite && r.op === op && r.impl === impl);
  const b = rows.find((r) => r.suite === suite && r.op === op && r.impl === base);
  if (!a || !b || !a.n || !b.n) return null;
  const cpu = a.cpu?.n && b.cpu?.n ? { cpuMedian: round(a.cpu.median / b.cpu.median) } : {};
  return { suite, op, impl, base, median: round(a.median / b.median), p90: round(a.p90 / b.p90), ...cpu };
}

function fmtMs(row) {
  if (!row) return '-';
  if (!row.n) return row.failures ? `failed ×${row.failures}` : '-';
  const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  return `${f(row.median)} / ${f(row.p90)}` + (row.failures ? ` (${row.failures} failed)` : '');
}

function pad(cells, widths) {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
}

function table(header, body) {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const lines = [pad(header, widths), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map((r) => pad(r, widths))];
  return lines.join('\n');
}

/**
 * The tables of one suite: ops measured on the same set of implementations share a table, with a
 * "median / p90 ms" column per implementation, then the suite's ratio columns (ratio of medians,
 * ratio of p90s in brackets).
 */
export function formatSuite(suite, rows, ratios) {
  const mine = rows.filter((r) => r.suite === suite.name);
  const groups = new Map();
  for (const op of new Set(mine.map((r) => r.op))) {
    const key = mine
      .filter((r) => r.op === op)
      .map((r) => r.impl)
      .join('\0');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(op);
  }
  const out = [suite.title];
  for (const [key, ops] of groups) {
    const impls = key.split('\0');
    const mineRatios = ratios.filter((x) => x.suite === suite.name && ops.includes(x.op));
    const pairs = [...new Set(mineRatios.map((x) => `${x.impl}/${x.base}`))];
    const header = ['median / p90 ms', ...impls, ...pairs];
    const body = ops.map((op) => [
      mine.find((r) => r.op === op)?.label ?? op,
      ...impls.map((impl) => fmtMs(mine.find((r) => r.op === op && r.impl === impl))),
      ...pairs.map((p) => {
        const x = mineRatios.find((r) => r.op === op && `${r.impl}/${r.base}` === p);
        return x ? `${x.median.toFixed(2)}× (${x.p90.toFixed(2)}×)` : '-';
      }),
    ]);
    out.push(table(header, body));
    // Parts ("op:part") have wall times only.
    const cpuOps = ops.filter((op) => impls.every((impl) => mine.find((r) => r.op === op && r.impl === impl)?.cpu?.n));
    if (cpuOps.length) {
      const cpuBody = cpuOps.map((op) => [
        mine.find((r) => r.op === op)?.label ?? op,
        ...impls.map((impl) => mine.find((r) => r.op === op && r.impl === impl).cpu.median.toFixed(1)),
        ...pairs.map((p) => {
          const x = mineRatios.find((r) => r.op === op && `${r.impl}/${r.base}` === p);
          return x?.cpuMedian != null ? `${x.cpuMedian.toFixed(2)}×` : '-';
        }),
      ]);
      out.push(table(['CPU ms (user+sys), median', ...impls, ...pairs], cpuBody));
    }
    const rssOps = ops.filter((op) => impls.some((impl) => mine.find((r) => r.op === op && r.impl === impl)?.rssMiB?.n));
    if (rssOps.length) {
      const rssBody = rssOps.map((op) => [
        mine.find((r) => r.op === op)?.label ?? op,
        ...impls.map((impl) => {
          const m = mine.find((r) => r.op === op && r.impl === impl)?.rssMiB;
          return m?.n ? `${m.median.toFixed(1)} / ${m.max.toFixed(1)}` : '-';
        }),
      ]);
      out.push(table(['peak RSS MiB of the call, median / max', ...impls], rssBody));
    }
  }
  return out.join('\n\n');
}
