// ONNX Runtime's side of bench/run.sh: loads DIR/<model>.onnx with onnxruntime-node, checks its
// outputs against the ones Savant wrote (max |ort - savant| / max |savant| <= 1e-4), then times
// batch 1 latency (p50/p99) and batch 32 throughput with intraOpNumThreads = --threads.
// Prints one JSON line per model, in the same format as model_bench.
//
//   node bench/ort_bench.js DIR --threads=1 [--seconds=1] [--model=NAME] [--check-only]
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

function arg(name, fallback) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.split('=')[1] : fallback;
}

function readFloats(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
}

function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(p * v.length))];
}

async function main() {
  const dir = process.argv[2];
  const threads = Number(arg('threads', '1'));
  const seconds = Number(arg('seconds', '1'));
  const checkOnly = process.argv.includes('--check-only');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const only = arg('model', '');
  const names = [...new Set(manifest.map((m) => m.name))].filter((n) => !only || n === only);
  let failed = false;
  for (const name of names) {
    const session = await ort.InferenceSession.create(path.join(dir, `${name}.onnx`), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const feeds = {};
    for (const m of manifest.filter((e) => e.name === name)) {
      const x = new ort.Tensor('float32', readFloats(path.join(dir, `${name}.b${m.batch}.in`)), m.input_shape);
      feeds[m.batch] = { x };
      const out = (await session.run({ x })).output;
      const want = readFloats(path.join(dir, `${name}.b${m.batch}.savant_out`));
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < want.length; ++i) {
        maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - want[i]));
        maxRef = Math.max(maxRef, Math.abs(want[i]));
      }
      const rel = maxDiff / Math.max(maxRef, 1e-30);
      const ok = out.data.length === want.length && rel <= 1e-4;
      failed = failed || !ok;
      if (checkOnly || !ok) {
        console.error(`check ${name} batch ${m.batch}: rel_err=${rel.toExponential(2)} ${ok ? 'ok' : 'MISMATCH'}`);
      }
    }
    if (checkOnly) continue;
    for (let i = 0; i < 20; ++i) await session.run(feeds[1]);
    const lat = [];
    const end1 = performance.now() + seconds * 1000;
    while (performance.now() < end1 || lat.length < 50) {
      const t0 = performance.now();
      await session.run(feeds[1]);
      lat.push((performance.now() - t0) * 1000);
    }
    for (let i = 0; i < 3; ++i) await session.run(feeds[32]);
    let calls = 0;
    const t0 = performance.now();
    const end32 = t0 + seconds * 1000;
    while (performance.now() < end32 || calls < 5) {
      await session.run(feeds[32]);
      ++calls;
    }
    const elapsed = (performance.now() - t0) / 1000;
    console.log(JSON.stringify({
      engine: 'ort', model: name, threads,
      p50_us: Number(percentile(lat, 0.5).toFixed(1)),
      p99_us: Number(percentile(lat, 0.99).toFixed(1)),
      b32_samples_per_s: Number(((32 * calls) / elapsed).toFixed(1)),
    }));
  }
  if (failed) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
