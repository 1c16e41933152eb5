// Validates every deployment manifest in deploy/ against the Kubernetes API schemas
// (kubernetes-models, generated from the Kubernetes OpenAPI spec; ajv underneath):
//   deploy/k8s/*.yaml        each object by its apiVersion/kind, and the kustomization's resource list
//   deploy/helm/savant       values.yaml against values.schema.json, then the rendered chart's objects
//                            (`helm template` when helm is installed; otherwise the renderer below,
//                            which implements exactly the template syntax the chart uses)
//   deploy/kserve/*.yaml     metadata and every container against the Kubernetes schemas, the KServe
//                            fields against KServe's v1alpha1/v1beta1 API (checked field by field)
//   deploy/compose.yaml      service, ports and volumes shape
// Before any of that it proves it can fail: a Deployment with a string containerPort must be refused.
// Exit 0 when all are valid, 1 with one line per problem otherwise.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import Ajv from "ajv";

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

// --- self-test: the validator must refuse a broken object.
{
  const before = problems.length;
  await validateK8s({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "broken" },
    spec: { selector: {}, template: { spec: { containers: [{ name: "c", ports: [{ containerPort: "8500" }] }] } } } },
    "self-test");
  if (problems.length === before) {
    console.error("validate: self-test failed: a Deployment with a string containerPort was accepted");
    process.exit(1);
  }
  problems.length = before;
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

// --- Helm chart.
const chartDir = path.join(deploy, "helm", "savant");
{
  const values = YAML.parse(fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8"));
  const schema = JSON.parse(fs.readFileSync(path.join(chartDir, "values.schema.json"), "utf8"));
  delete schema.$schema;
  const ajv = new Ajv({ allErrors: true, strict: false });
  if (!ajv.validate(schema, values)) problems.push(`deploy/helm/savant/values.yaml: ${ajv.errorsText()}`);
  const chart = YAML.parse(fs.readFileSync(path.join(chartDir, "Chart.yaml"), "utf8"));
  for (const k of ["apiVersion", "name", "version"]) if (!chart[k]) problems.push(`Chart.yaml: missing ${k}`);
  let rendered;
  let helm = null;
  try { helm = execFileSync("sh", ["-c", "command -v helm"], { encoding: "utf8" }).trim(); } catch {}
  if (helm) {
    rendered = execFileSync(helm, ["template", "release", chartDir], { encoding: "utf8" });
  } else {
    const ctx = { Values: values, Release: { Name: "release", Namespace: "default" }, Chart: { Name: chart.name, Version: chart.version } };
    rendered = fs.readdirSync(path.join(chartDir, "templates")).filter((f) => f.endsWith(".yaml")).sort()
      .map((f) => render(fs.readFileSync(path.join(chartDir, "templates", f), "utf8"), ctx, ctx)).join("\n---\n");
  }
  for (const doc of YAML.parseAllDocuments(rendered).map((d) => d.toJS()).filter((d) => d)) {
    await validateK8s(doc, `deploy/helm/savant (${helm ? "helm template" : "rendered"})`);
    if (doc.kind === "ConfigMap" && !/model_config_list \{\s*config \{\s*name: "half_plus_two"/.test(doc.data["models.config"])) {
      problems.push("deploy/helm/savant: rendered models.config lacks the half_plus_two model");
    }
  }
}

// --- KServe.
const kserveDir = path.join(deploy, "kserve");
const { ObjectMeta } = await import("@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta");
const { Container } = await import("kubernetes-models/v1/Container");
function expect(cond, msg) { if (!cond) problems.push(msg); }
for (const f of fs.readdirSync(kserveDir).filter((f) => f.endsWith(".yaml")).sort()) {
  for (const o of readDocs(path.join(kserveDir, f))) {
    const where = `deploy/kserve/${f}: ${o.kind} ${o.metadata?.name}`;
    try { new ObjectMeta(o.metadata).validate(); } catch (e) { problems.push(`${where}: metadata: ${e.message}`); }
    if (o.kind === "ClusterServingRuntime" || o.kind === "ServingRuntime") {
      expect(o.apiVersion === "serving.kserve.io/v1alpha1", `${where}: apiVersion must be serving.kserve.io/v1alpha1`);
      const s = o.spec ?? {};
      expect(Array.isArray(s.supportedModelFormats) && s.supportedModelFormats.length > 0, `${where}: spec.supportedModelFormats is empty`);
      for (const m of s.supportedModelFormats ?? []) {
        expect(typeof m.name === "string", `${where}: supportedModelFormats[].name must be a string`);
        expect(m.version === undefined || typeof m.version === "string", `${where}: supportedModelFormats[].version must be a string`);
        expect(m.autoSelect === undefined || typeof m.autoSelect === "boolean", `${where}: autoSelect must be a boolean`);
        expect(m.priority === undefined || Number.isInteger(m.priority), `${where}: priority must be an integer`);
      }
      for (const p of s.protocolVersions ?? []) expect(["v1", "v2", "grpc-v1", "grpc-v2"].includes(p), `${where}: unknown protocolVersion ${p}`);
      expect(Array.isArray(s.containers) && s.containers.length > 0, `${where}: spec.containers is empty`);
      for (const c of s.containers ?? []) {
        try { new Container(c).validate(); checked++; } catch (e) { problems.push(`${where}: container ${c.name}: ${e.message}`); }
        expect(c.name === "kserve-container", `${where}: the model server container must be named kserve-container`);
      }
    } else if (o.kind === "InferenceService") {
      expect(o.apiVersion === "serving.kserve.io/v1beta1", `${where}: apiVersion must be serving.kserve.io/v1beta1`);
      const m = o.spec?.predictor?.model;
      expect(m && typeof m.modelFormat?.name === "string", `${where}: spec.predictor.model.modelFormat.name is required`);
      expect(m?.storageUri === undefined || typeof m.storageUri === "string", `${where}: storageUri must be a string`);
      expect(m?.protocolVersion === undefined || ["v1", "v2", "grpc-v1", "grpc-v2"].includes(m.protocolVersion), `${where}: bad protocolVersion`);
      checked++;
    } else {
      problems.push(`${where}: unexpected kind`);
    }
  }
}
// The InferenceService's runtime must exist here and support its model format.
{
  const objs = fs.readdirSync(kserveDir).filter((f) => f.endsWith(".yaml")).flatMap((f) => readDocs(path.join(kserveDir, f)));
  for (const isvc of objs.filter((o) => o.kind === "InferenceService")) {
    const m = isvc.spec.predictor.model;
    const rt = objs.find((o) => o.kind.endsWith("ServingRuntime") && o.metadata.name === m.runtime);
    expect(rt, `deploy/kserve: InferenceService ${isvc.metadata.name} names missing runtime ${m.runtime}`);
    if (rt) expect(rt.spec.supportedModelFormats.some((f) => f.name === m.modelFormat.name), `deploy/kserve: runtime ${rt.metadata.name} does not support ${m.modelFormat.name}`);
  }
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

// Go-template subset used by the chart: {{ .A.b }}, {{ .x | default N }}, {{ toYaml .A | nindent N }},
// {{- if X }}...{{- end }}, {{- range .A }}...{{- end }}, with {{- / -}} whitespace trimming.
function render(src, root, dot) {
  const tokens = [];
  const re = /\{\{(-?)\s*(.*?)\s*(-?)\}\}/gs;
  let last = 0, m;
  while ((m = re.exec(src))) {
    tokens.push({ text: src.slice(last, m.index) });
    tokens.push({ trimL: m[1] === "-", expr: m[2], trimR: m[3] === "-" });
    last = re.lastIndex;
  }
  tokens.push({ text: src.slice(last) });
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i].expr === undefined) continue;
    if (tokens[i].trimL && i > 0) tokens[i - 1].text = tokens[i - 1].text.replace(/\s+$/, "");
    if (tokens[i].trimR && i + 1 < tokens.length) tokens[i + 1].text = tokens[i + 1].text.replace(/^\s+/, "");
  }
  const lookup = (p, d) => {
    if (p === ".") return d;
    const base = p.startsWith("$.") ? root : p.startsWith(".") && /^\.(Values|Release|Chart)\b/.test(p) ? root : d;
    return p.replace(/^\$/, "").split(".").filter(Boolean).reduce((o, k) => (o == null ? undefined : o[k]), base);
  };
  const evalExpr = (e, d) => {
    const parts = e.split("|").map((s) => s.trim());
    let v;
    const head = parts[0].split(/\s+/);
    if (head[0] === "toYaml") v = YAML.stringify(lookup(head[1], d)).replace(/\n$/, "");
    else v = lookup(head[0], d);
    for (const f of parts.slice(1)) {
      const [fn, arg] = f.split(/\s+/);
      if (fn === "default") v = v ?? (isNaN(Number(arg)) ? arg : Number(arg));
      else if (fn === "nindent") v = "\n" + String(v).split("\n").map((l) => " ".repeat(Number(arg)) + l).join("\n");
      else if (fn === "quote") v = JSON.stringify(String(v));
      else throw new Error(`template function ${fn} is not supported by the fallback renderer`);
    }
    if (v === undefined) throw new Error(`template value ${e} is undefined`);
    return String(v);
  };
  const run = (from, to, d) => {
    let out = "";
    for (let i = from; i < to; i++) {
      const t = tokens[i];
      if (t.expr === undefined) { out += t.text; continue; }
      const [kw, ...rest] = t.expr.split(/\s+/);
      if (kw === "if" || kw === "range") {
        let depth = 1, j = i + 1;
        for (; j < to; j++) {
          const k = tokens[j].expr?.split(/\s+/)[0];
          if (k === "if" || k === "range") depth++;
          else if (k === "end" && --depth === 0) break;
        }
        const v = lookup(rest.join(" "), d);
        if (kw === "if" && v) out += run(i + 1, j, d);
        if (kw === "range") for (const item of v ?? []) out += run(i + 1, j, item);
        i = j;
      } else {
        out += evalExpr(t.expr, d);
      }
    }
    return out;
  };
  return run(0, tokens.length, dot);
}

if (problems.length) {
  for (const p of problems) console.error(`validate: ${p}`);
  process.exit(1);
}
console.log(`validate: ${checked} objects valid (Kubernetes API schemas from kubernetes-models; KServe fields checked)`);
