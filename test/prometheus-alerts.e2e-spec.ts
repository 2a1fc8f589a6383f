import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startTestApp } from './support/test-app';

const PROMETHEUS_DIR = path.resolve(__dirname, '../deploy/prometheus');
const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? 'promtool';

// Metrics the alerts use that this server does not export: Prometheus's own `up`.
const NOT_OURS = new Set(['up']);
function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL_BIN, args, { cwd: PROMETHEUS_DIR, encoding: 'utf8' });
  if (r.error) throw new Error(`${PROMTOOL_BIN} missing (apt-get install prometheus ships it): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface Rule {
  alert: string;
  expr: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}

const rules = (): Rule[] =>
  (
    parseYaml(readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }
  ).groups.flatMap((g) => g.rules);

describe('Prometheus alert rules', () => {
  it('should be valid and pass their promtool unit tests', () => {
    const check = promtool('check', 'rules', 'alerts.yml');
    expect({ status: check.status, output: check.output }).toEqual({ status: 0, output: expect.any(String) });
    const test = promtool('test', 'rules', 'alerts.test.yml');
    expect({ status: test.status, output: test.output }).toEqual({
      status: 0,
      output: expect.stringContaining('SUCCESS'),
    });
    const config = promtool('check', 'config', 'prometheus.yml');
    expect({ status: config.status, output: config.output }).toEqual({
      status: 0,
      output: expect.stringContaining('1 rule files found'),
    });
  });

  it('should cover what the on-call needs, each alert with a severity, a summary and a test', () => {
    const all = rules();
    const names = all.map((r) => r.alert);
    for (const needed of [
      'HapaHigh5xxRatio',
      'HapaSlowFirstToken',
      'HapaModelServersDown',
      'HapaPostgresDown',
      'HapaRedisDown',
      'HapaRateLimitedSurge',
      'HapaEventLoopLag',
      'HapaStalledStreams',
    ]) {
      expect(names).toContain(needed);
    }
    const tests = readFileSync(path.join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8');
    for (const r of all) {
      expect({ alert: r.alert, severity: r.labels?.severity }).toEqual({
        alert: r.alert,
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect(r.annotations?.summary).toEqual(expect.any(String));
      expect(tests).toContain(`alertname: ${r.alert}\n`);
    }
  });

  it('should only use metrics the server exports', async () => {
    const app = await startTestApp({ apiKey: false, logLevel: 'warn' });
    try {
      const text = (await app.request('GET', '/metrics')).text;
      const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
      const used = new Set(
        rules().flatMap((r) =>
          [...r.expr.matchAll(/\b(?:hapa|nodejs)_[a-z0-9_]+|\bup(?=\{)/g)].map((m) =>
            m[0].replace(/_(bucket|count|sum)$/, ''),
          ),
        ),
      );
      expect(used.size).toBeGreaterThanOrEqual(8);
      const missing = [...used].filter((n) => !exported.has(n) && !NOT_OURS.has(n));
      expect(missing).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
