import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ENV_SCHEMA } from '../src/config/env.schema';

// The Helm chart without a cluster: helm lint/template, every object against the Kubernetes schemas, and
// what schemas cannot see (probes, drain timing, autoscaling bounds, secrets kept out of ConfigMaps).
// helm and the schemas come from test/tools (bash test/tools/install.sh, which .ci/run calls).

const ROOT = path.resolve(__dirname, '..');
const CHART = path.join(ROOT, 'deploy/helm/hapa');
const TOOLS = path.join(ROOT, 'test/tools');

function findHelm(): string | undefined {
  const local = path.join(TOOLS, 'bin/helm');
  if (existsSync(local)) return local;
  return spawnSync('helm', ['version', '--short']).status === 0 ? 'helm' : undefined;
}
const HELM = findHelm();

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(HELM!, args, { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function render(valueArgs: string[]): K8sObject[] {
  const r = helm(['template', 'hapa', CHART, ...valueArgs]);
  if (r.status !== 0) throw new Error(r.stderr);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function validateAgainstSchemas(objects: K8sObject[]): { kind: string; name: string; error: string | null }[] {
  if (!existsSync(path.join(TOOLS, 'node_modules/kubernetes-models')))
    throw new Error('the Kubernetes schemas are missing: bash test/tools/install.sh');
  const r = spawnSync(process.execPath, [path.join(TOOLS, 'validate-k8s.mjs')], {
    cwd: TOOLS,
    input: JSON.stringify(objects),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const only = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const one = (objects: K8sObject[], kind: string): K8sObject => {
  const found = only(objects, kind);
  expect(found).toHaveLength(1);
  return found[0];
};
const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

// The gauge the server exports for open streams (the custom metric the HPA may scale on).
const ACTIVE_STREAMS = 'hapa_active_streams';

function sourceDefines(literal: string, dir = path.join(ROOT, 'src')): boolean {
  return readdirSync(dir, { withFileTypes: true }).some((e) =>
    e.isDirectory()
      ? sourceDefines(literal, path.join(dir, e.name))
      : e.name.endsWith('.ts') && readFileSync(path.join(dir, e.name), 'utf8').includes(`'${literal}'`),
  );
}

const SECRET_VARS = Object.entries(ENV_SCHEMA)
  .filter(([, spec]) => (spec as { secret?: boolean }).secret)
  .map(([name]) => name);

// The default values and every value set under the chart's ci/ folder.
const VALUE_SETS: [string, string[]][] = [
  ['default values', []],
  ...readdirSync(path.join(CHART, 'ci'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f): [string, string[]] => [`ci/${f}`, ['-f', path.join(CHART, 'ci', f)]]),
];

// Skips only when the helm binary is missing (CI installs it, so CI never skips).
const describeWithHelm = HELM ? describe : describe.skip;

describeWithHelm('Helm chart deploy/helm/hapa', () => {
  it('should render at least three value sets', () => {
    expect(VALUE_SETS.length).toBeGreaterThanOrEqual(3);
  });

  it("should carry package.json's version as appVersion", () => {
    const chart = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8'));
    expect(chart.appVersion).toBe(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  describe.each(VALUE_SETS)('%s', (_name, valueArgs) => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = render(valueArgs);
    });

    it('should pass helm lint --strict', () => {
      const r = helm(['lint', '--strict', CHART, ...valueArgs]);
      expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: 0, out: expect.any(String) });
    });

    it('should render only objects that are valid against the Kubernetes schemas', () => {
      const kinds = objects.map((o) => o.kind);
      for (const kind of ['Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget']) expect(kinds).toContain(kind);
      const results = validateAgainstSchemas(objects);
      expect(results).toHaveLength(objects.length);
      expect(results.filter((r) => r.error !== null)).toEqual([]);
    });

    it('should probe /health/live for liveness and start-up and /health/ready for readiness on the served port', () => {
      const deployment = one(objects, 'Deployment');
      const [container] = deployment.spec.template.spec.containers;
      const config = one(objects, 'ConfigMap').data;
      const port = container.ports.find((p: { name: string }) => p.name === 'http');
      expect(port.containerPort).toBe(Number(config.PORT));
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    });

    it('should give a stopping pod longer than its preStop pause plus SHUTDOWN_TIMEOUT', () => {
      const pod = one(objects, 'Deployment').spec.template.spec;
      const shutdownTimeout = Number(one(objects, 'ConfigMap').data.SHUTDOWN_TIMEOUT);
      const preStop: string[] = pod.containers[0].lifecycle.preStop.exec.command;
      expect(preStop[0]).toBe('sleep');
      const pause = Number(preStop[1]);
      expect(pause).toBeGreaterThan(0);
      expect(shutdownTimeout).toBeGreaterThan(0);
      // At least 5 s after the drain for flushing batches and closing PostgreSQL and Redis.
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(pause + shutdownTimeout + 5);
      // Rolling updates add a ready pod before draining an old one.
      expect(one(objects, 'Deployment').spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    });

    it('should configure the server through variables it validates, listening on 0.0.0.0 in production', () => {
      const config: Record<string, string> = one(objects, 'ConfigMap').data;
      expect(config.HOST).toBe('0.0.0.0');
      expect(config.ENVIRONMENT).toBe('production');
      for (const [name, value] of Object.entries(config)) {
        expect(Object.keys(ENV_SCHEMA)).toContain(name);
        expect(() => ENV_SCHEMA[name as keyof typeof ENV_SCHEMA].parse(value)).not.toThrow();
      }
    });

    it('should keep every secret out of the ConfigMap and take them from the Secret', () => {
      const config: Record<string, string> = one(objects, 'ConfigMap').data;
      for (const name of SECRET_VARS) expect(Object.keys(config)).not.toContain(name);
      const container = one(objects, 'Deployment').spec.template.spec.containers[0];
      const secretRefs = container.envFrom.filter((e: { secretRef?: unknown }) => e.secretRef);
      expect(secretRefs).toHaveLength(1);
      expect(container.env ?? []).toEqual([]);
      const secrets = only(objects, 'Secret');
      if (secrets.length === 0) return; // an existing Secret, created outside the chart
      expect(secrets[0].metadata.name).toBe(secretRefs[0].secretRef.name);
      const stored: Record<string, string> = secrets[0].stringData;
      for (const name of Object.keys(stored)) expect(SECRET_VARS).toContain(name);
      for (const value of Object.values(stored)) {
        expect(value.length).toBeGreaterThan(0);
        for (const configValue of Object.values(config)) expect(configValue).not.toContain(value);
      }
    });

    it('should bound autoscaling and keep a pod serving through voluntary disruptions', () => {
      const deployment = one(objects, 'Deployment');
      const podLabels = deployment.spec.template.metadata.labels;
      const pdb = one(objects, 'PodDisruptionBudget');
      expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
      const hpas = only(objects, 'HorizontalPodAutoscaler');
      const minPods = hpas.length ? hpas[0].spec.minReplicas : deployment.spec.replicas;
      expect(minPods).toBeGreaterThanOrEqual(2);
      const maxUnavailable = pdb.spec.maxUnavailable;
      if (typeof maxUnavailable === 'number') expect(maxUnavailable).toBeLessThan(minPods);
      else expect(maxUnavailable).toMatch(/^([1-9]|[1-4][0-9])%$/);
      if (hpas.length === 0) return;
      const hpa = hpas[0];
      // The HPA owns the replica count: a fixed one would be reset on every upgrade.
      expect(deployment.spec.replicas).toBeUndefined();
      expect(hpa.spec.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: deployment.metadata.name,
      });
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      const cpu = hpa.spec.metrics.find((m: { type: string }) => m.type === 'Resource');
      expect(cpu.resource.name).toBe('cpu');
      expect(cpu.resource.target.averageUtilization).toBeGreaterThan(0);
      expect(cpu.resource.target.averageUtilization).toBeLessThanOrEqual(100);
      // CPU utilisation is relative to the request: without one the HPA cannot compute it.
      expect(deployment.spec.template.spec.containers[0].resources.requests.cpu).toBeDefined();
      for (const m of hpa.spec.metrics.filter((x: { type: string }) => x.type === 'Pods')) {
        expect(sourceDefines(ACTIVE_STREAMS)).toBe(true);
        expect(m.pods.metric.name).toBe(ACTIVE_STREAMS);
        expect(Number(m.pods.target.averageValue)).toBeGreaterThan(0);
      }
    });

    it('should route the Service and any ServiceMonitor to the pods', () => {
      const deployment = one(objects, 'Deployment');
      const podLabels = deployment.spec.template.metadata.labels;
      const service = one(objects, 'Service');
      expect(matches(service.spec.selector, podLabels)).toBe(true);
      expect(service.spec.ports[0].targetPort).toBe('http');
      for (const monitor of only(objects, 'ServiceMonitor')) {
        expect(matches(monitor.spec.selector.matchLabels, service.metadata.labels!)).toBe(true);
        expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
      }
    });

    it('should run as a non-root user on a read-only root filesystem', () => {
      const pod = one(objects, 'Deployment').spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.containers[0].securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
    });
  });

  it('should render the ci value sets differently where they say so', () => {
    const streams = render(['-f', path.join(CHART, 'ci/streams-autoscaling-values.yaml')]);
    expect(only(streams, 'ServiceMonitor')).toHaveLength(1);
    const metrics = one(streams, 'HorizontalPodAutoscaler').spec.metrics.map((m: { type: string }) => m.type);
    expect(metrics).toEqual(['Resource', 'Pods']);
    const inline = render(['-f', path.join(CHART, 'ci/inline-secret-values.yaml')]);
    expect(only(inline, 'HorizontalPodAutoscaler')).toHaveLength(0);
    expect(one(inline, 'Deployment').spec.replicas).toBe(3);
    expect(one(inline, 'ConfigMap').data.WORKERS).toBe('2');
    expect(one(inline, 'Deployment').spec.template.metadata.annotations['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['a secret in the ConfigMap values', ['--set', 'config.SECRET_KEY=abc'], /invalid propertyName 'SECRET_KEY'/],
    ['a variable the chart sets itself', ['--set', 'config.HOST=127.0.0.1'], /invalid propertyName 'HOST'/],
    ['a grace period shorter than the drain', ['--set', 'terminationGracePeriodSeconds=30'], /must exceed/],
    ['an inline Secret without its values', ['--set', 'secret.existingSecret='], /SECRET_KEY is required/],
    ['an unknown value', ['--set', 'replicas=3'], /additional propert/i],
  ])('should refuse %s', (_what, args, message) => {
    const r = helm(['template', 'hapa', CHART, ...args]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('should keep deploy/k8s/hapa.yaml equal to the chart rendered with its default values', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'deploy/k8s/render.sh'), '--stdout'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    // On a difference: bash deploy/k8s/render.sh
    expect(readFileSync(path.join(ROOT, 'deploy/k8s/hapa.yaml'), 'utf8')).toBe(r.stdout);
  });
});
