// Differential test of the wild fixtures against TensorFlow.js.
//
// tfjs-converter converts SavedModels only through Python TensorFlow, which this project does not
// use. Instead, savant_tfjs_export (tfjs_export.cc) writes one signature of a fixture as a tfjs
// "graph model": the GraphDef nodes that depend on the inputs, kept as they are, plus every
// input-independent tensor (variables, constant subgraphs) evaluated once into weights. It also
// writes random inputs and Savant's outputs for them. This script loads that model with
// tf.loadGraphModel (tfjs executes TensorFlow ops with its own kernels) and compares its outputs
// with Savant's: relative error <= 1e-4 (absolute 1e-5 near zero).
//
//   node differential.js --export path/to/savant_tfjs_export [--fixtures ../shared/fixtures]
//
// Exit codes: 0 all compared fixtures match, 1 a mismatch or an unexpected failure, 77 when
// tfjs (npm ci) or the fixtures are missing, so CTest reports the test as skipped.
'use strict';

const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const SKIP = 77;
const REL = 1e-4;
const ABS = 1e-5;

// Fixture, signature, tags, and why a fixture cannot be compared when it cannot.
const CASES = [
  {id: 'tftest-half-plus-two-pbtxt', signature: 'serving_default'},
  {id: 'tftest-half-plus-two-pbtxt', signature: 'regress_x2_to_y3'},
  {id: 'cppflow-multi-io', signature: 'serving_default'},
  {id: 'openmv-imgclf', signature: 'serving_default'},
  {id: 'tfbridge-mnist', signature: 'predict_images'},
  // tfjs-converter maps FakeQuantWithMinMaxVars to an identity ("currently ignored" in its op
  // list), so tfjs computes the unquantised network: no oracle for this model. The op itself is
  // covered by ops/FakeQuantWithMinMaxVars.json, written from TensorFlow's kernel.
  {id: 'dnn-gearbox', signature: 'serving_default',
   tfjsLacks: 'FakeQuantWithMinMaxVars (tfjs-converter runs it as an identity)'},
];

function parseArgs() {
  const args = {fixtures: process.env.SAVANT_FIXTURES ||
                          path.resolve(__dirname, '..', '..', '..', 'shared', 'fixtures')};
  for (let i = 2; i < process.argv.length; i += 2) {
    args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
  }
  return args;
}

function decode(v) {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return v;
}

function compare(name, got, want) {
  const problems = [];
  if (JSON.stringify(got.shape) !== JSON.stringify(want.shape)) {
    return [`${name}: shape ${JSON.stringify(got.shape)} vs Savant ${JSON.stringify(want.shape)}`];
  }
  let worst = 0;
  for (let i = 0; i < want.values.length; ++i) {
    const w = decode(want.values[i]);
    const g = got.values[i];
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (!(Number.isNaN(w) && Number.isNaN(g))) problems.push(`${name}[${i}]: tfjs ${g} vs Savant ${w}`);
      continue;
    }
    const err = Math.abs(g - w);
    const rel = err / Math.max(Math.abs(w), ABS / REL);
    worst = Math.max(worst, rel);
    if (rel > REL && problems.length < 5) {
      problems.push(`${name}[${i}]: tfjs ${g} vs Savant ${w} (rel ${rel.toExponential(2)})`);
    }
  }
  return {problems, worst};
}

async function main() {
  const args = parseArgs();
  let tf;
  try {
    tf = require('@tensorflow/tfjs');
  } catch (e) {
    console.log('SKIP: @tensorflow/tfjs is not installed (run npm ci in tests/golden)');
    return SKIP;
  }
  if (!args.export || !fs.existsSync(args.export)) {
    console.log(`FAIL: --export ${args.export} (savant_tfjs_export) not found`);
    return 1;
  }
  if (!fs.existsSync(path.join(args.fixtures, 'wild'))) {
    console.log(`SKIP: no wild fixtures under ${args.fixtures}`);
    return SKIP;
  }
  await tf.setBackend('cpu');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'savant-differential-'));
  let failed = 0;
  let compared = 0;
  for (const c of CASES) {
    const label = `${c.id}/${c.signature}`;
    const dir = path.join(args.fixtures, 'wild', c.id);
    if (!fs.existsSync(dir)) {
      console.log(`SKIP ${label}: fixture missing`);
      continue;
    }
    const out = path.join(work, `${c.id}-${c.signature}`);
    const run = childProcess.spawnSync(args.export, ['--model', dir, '--signature', c.signature,
                                                     '--out', out, '--batch', '2'],
                                       {encoding: 'utf8'});
    if (run.status !== 0) {
      const message = (run.stderr || run.stdout || '').trim();
      // A model the engine refuses (an op not implemented yet) is reported, not failed: the wild
      // fixture test asserts which fixtures must load.
      if (/UNIMPLEMENTED/.test(message)) {
        console.log(`SKIP ${label}: Savant refuses the model: ${message.split('\n')[0]}`);
      } else {
        console.log(`FAIL ${label}: export failed: ${message}`);
        ++failed;
      }
      continue;
    }
    if (c.tfjsLacks) {
      console.log(`SKIP ${label}: tfjs lacks ${c.tfjsLacks}`);
      continue;
    }
    const model = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
    const weightData = fs.readFileSync(path.join(out, 'weights.bin'));
    const expected = JSON.parse(fs.readFileSync(path.join(out, 'expected.json'), 'utf8'));
    let graph;
    try {
      graph = await tf.loadGraphModel(tf.io.fromMemory({
        modelTopology: model.modelTopology,
        weightSpecs: model.weightsManifest[0].weights,
        weightData: weightData.buffer.slice(weightData.byteOffset,
                                            weightData.byteOffset + weightData.byteLength),
        format: 'graph-model',
      }));
    } catch (e) {
      console.log(`FAIL ${label}: tfjs cannot load the exported graph: ${e.message}`);
      ++failed;
      continue;
    }
    const feeds = {};
    for (const input of expected.inputs) {
      const dtype = input.dtype === 'DT_FLOAT' ? 'float32' : 'int32';
      feeds[input.name] = tf.tensor(input.values.map(decode), input.shape, dtype);
    }
    const names = expected.outputs.map((o) => o.name);
    let results;
    try {
      results = await graph.executeAsync(feeds, names);
    } catch (e) {
      console.log(`FAIL ${label}: tfjs failed to execute: ${e.message}`);
      ++failed;
      continue;
    }
    if (!Array.isArray(results)) results = [results];
    const problems = [];
    let worst = 0;
    for (let i = 0; i < names.length; ++i) {
      const got = {shape: results[i].shape, values: Array.from(await results[i].data())};
      const r = compare(expected.outputs[i].alias, got, expected.outputs[i]);
      if (Array.isArray(r)) {
        problems.push(...r);
      } else {
        problems.push(...r.problems);
        worst = Math.max(worst, r.worst);
      }
    }
    ++compared;
    if (problems.length) {
      console.log(`FAIL ${label}:\n  ${problems.join('\n  ')}`);
      ++failed;
    } else {
      const nodes = model.modelTopology.node.length;
      console.log(`PASS ${label}: ${names.length} outputs, ${nodes} nodes, max rel err ${worst.toExponential(2)}`);
    }
  }
  fs.rmSync(work, {recursive: true, force: true});
  console.log(`${compared} signatures compared, ${failed} failed`);
  if (failed) return 1;
  return compared === 0 ? SKIP : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
