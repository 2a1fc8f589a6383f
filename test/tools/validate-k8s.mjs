// Validates Kubernetes objects against the API schemas (kubernetes-models; ServiceMonitor from the Prometheus
// Operator's models). Input: a JSON array of objects on stdin. Output: a JSON array of
// {kind, name, error} with error null when valid. Plain ESM run by node: the models are ESM-only.
import { readFileSync } from 'node:fs';

async function modelFor({ apiVersion, kind }) {
  if (apiVersion.startsWith('monitoring.coreos.com/')) {
    return (await import(`@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`))[kind];
  }
  // The core group (apiVersion "v1") sits at the package root: kubernetes-models/v1/ConfigMap.
  return (await import(`kubernetes-models/${apiVersion}/${kind}`))[kind];
}

const objects = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const obj of objects) {
  let error = null;
  try {
    const Model = await modelFor(obj);
    if (typeof Model !== 'function') throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
    new Model(obj).validate();
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  results.push({ kind: obj.kind, name: obj.metadata?.name ?? null, error });
}
process.stdout.write(JSON.stringify(results));
