// Summarises bench/run.sh results: the median over rounds of each engine's batch-1 p50/p99 latency
// and batch-32 throughput, and the ratio Savant/ONNX Runtime (time per request or per sample, so
// below 1.0 means Savant is faster).
//
//   node bench/report.js results.jsonl
'use strict';
const fs = require('fs');

const rows = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l));
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const groups = new Map();
for (const r of rows) {
  const key = `${r.model}|${r.threads}|${r.engine}`;
  if (!groups.has(key)) groups.set(key, []);
  groups.get(key).push(r);
}
const stat = (model, threads, engine, field) => {
  const g = groups.get(`${model}|${threads}|${engine}`);
  return g ? median(g.map((r) => r[field])) : NaN;
};
const models = [...new Set(rows.map((r) => r.model))];
const threads = [...new Set(rows.map((r) => r.threads))].sort();
const pad = (s, n) => String(s).padStart(n);
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`${'model'.padEnd(12)}${pad('thr', 4)} | ${pad('p50 us savant', 14)}${pad('ort', 9)}${pad('ratio', 7)}` +
  ` | ${pad('p99 us savant', 14)}${pad('ort', 9)}${pad('ratio', 7)}` +
  ` | ${pad('b32 samples/s savant', 21)}${pad('ort', 10)}${pad('ratio', 7)}`);
let worst = 0;
for (const m of models) {
  for (const t of threads) {
    const s50 = stat(m, t, 'savant', 'p50_us'), o50 = stat(m, t, 'ort', 'p50_us');
    const s99 = stat(m, t, 'savant', 'p99_us'), o99 = stat(m, t, 'ort', 'p99_us');
    const sT = stat(m, t, 'savant', 'b32_samples_per_s'), oT = stat(m, t, 'ort', 'b32_samples_per_s');
    const r50 = s50 / o50, r99 = s99 / o99, rT = oT / sT;
    worst = Math.max(worst, r50, rT);
    console.log(`${m.padEnd(12)}${pad(t, 4)} | ${pad(fmt(s50), 14)}${pad(fmt(o50), 9)}${pad(fmt(r50, 2), 7)}` +
      ` | ${pad(fmt(s99), 14)}${pad(fmt(o99), 9)}${pad(fmt(r99, 2), 7)}` +
      ` | ${pad(fmt(sT, 0), 21)}${pad(fmt(oT, 0), 10)}${pad(fmt(rT, 2), 7)}`);
  }
}
console.log(`ratio = Savant time / ORT time (throughput: ORT samples/s / Savant samples/s); ` +
  `worst p50/throughput ratio ${fmt(worst, 2)} (goal <= 1.00)`);
