import { Controller, Get, Module } from '@nestjs/common';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { AppException } from '../src/common/errors/app.exception';
import { ErrorCode } from '../src/common/errors/error-codes';
import { ModelServerEmulator } from '../emulator/emulator';
import { postSse } from './support/sse-client';
import { startTestApp, TestApp } from './support/test-app';
import { freePort } from './support/processes';

const ROOT = path.resolve(__dirname, '..');
const DASHBOARD = path.join(ROOT, 'deploy/grafana/dashboards/hapa.json');
const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
// Grafana's interval variables, as Grafana would expand them for a 1 s scrape interval.
const GRAFANA_VARIABLES: Record<string, string> = { $__rate_interval: '1m', $__interval: '15s', $__range: '5m' };

// Every metric comes from real traffic: code generation against the emulator (cache hits and misses,
// active streams, tokens, time to first token), the model-server pool's probe (hapa_model_server_up),
// the health checks (hapa_dependency_up), errors, real rate limiting (a 1-per-minute rule on
// /code/models) for hapa_rate_limited_total, and the emulator's own vLLM gauges, scraped as vLLM is.
@Controller('probe')
class TrafficController {
  @Get('fail') fail(): never {
    throw new AppException(ErrorCode.E5005);
  }
}

@Module({ controllers: [TrafficController] })
class TrafficModule {}

interface Panel {
  title: string;
  type: string;
  datasource?: { uid: string };
  targets?: { expr: string }[];
  panels?: Panel[];
}

function dashboardExpressions(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const out: { panel: string; expr: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ panel: p.title, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  return out;
}

const expand = (expr: string) => expr.replace(/\$__\w+/g, (v) => GRAFANA_VARIABLES[v] ?? v);

async function query(
  base: string,
  expr: string,
): Promise<{ status: string; error?: string; data?: { result: { value: [number, string] }[] } }> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as never;
}

describe('Grafana dashboard against a real Prometheus', () => {
  let app: TestApp;
  let emu: ModelServerEmulator;
  let prometheus: ChildProcess;
  let promUrl: string;
  let dir: string;
  const promLog: string[] = [];

  beforeAll(async () => {
    if (!existsSync(PROMETHEUS_BIN)) throw new Error(`${PROMETHEUS_BIN} missing: apt-get install -y prometheus`);
    emu = new ModelServerEmulator({ tokenDelayMs: 2 });
    const emuUrl = await emu.listen();
    app = await startTestApp({
      extraModules: [TrafficModule],
      redis: false,
      logLevel: 'warn',
      env: { VLLM_SERVER_URL: emuUrl, HEALTH_PROBE_INTERVAL: '0.5', RATE_LIMIT_RULES: '/code/models=1/1m' },
    });
    dir = mkdtempSync(path.join(tmpdir(), 'hapa-prom-'));
    const target = new URL(app.url).host;
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: hapa-backend',
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: ['${target}']`,
        // The emulator serves vLLM's queue gauges, as a real model server would be scraped.
        '  - job_name: vllm',
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: ['${new URL(emuUrl).host}']`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (b: Buffer) => promLog.push(b.toString()));
    prometheus.stderr!.on('data', (b: Buffer) => promLog.push(b.toString()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = await fetch(`${promUrl}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline || prometheus.exitCode !== null)
        throw new Error(`prometheus did not start:\n${promLog.join('')}`);
      await sleep(200);
    }
  }, 60_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus.once('exit', r));
      prometheus.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
    }
    prometheus?.stdout?.destroy();
    prometheus?.stderr?.destroy();
    await app?.close();
    await emu?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('should ship provisioning that points the dashboard at the provisioned data source', () => {
    const ds = parseYaml(
      readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    );
    const uid = ds.datasources[0].uid;
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const providers = parseYaml(
      readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/dashboards/hapa.yml'), 'utf8'),
    );
    expect(providers.providers[0]).toMatchObject({ type: 'file', options: { path: expect.any(String) } });
    const scrape = parseYaml(readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'));
    expect(
      scrape.scrape_configs.map((c: { static_configs: { targets: string[] }[] }) => c.static_configs[0].targets[0]),
    ).toEqual(['backend:8000', 'vllm:8000']);
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
    for (const p of dashboard.panels) expect(p.datasource?.uid).toBe(uid);
    const titles = dashboard.panels.map((p) => p.title).join(' | ');
    for (const needed of [
      'Traffic',
      '5xx ratio',
      '4xx ratio',
      '4xx and 5xx responses',
      'Latency percentiles, one-shot requests',
      'Stream durations',
      'Dependency health',
      'Event-loop lag',
      'Model-server queue (vLLM)',
      'Stalled streams',
      'Time to first token',
      'Tokens',
      'Errors by code',
      'Cache hit rate',
      'Model-server health',
      'Active streams',
      'Gateway overhead',
      'Rate limited',
    ]) {
      expect(titles).toContain(needed);
    }
  });

  it('should evaluate every PromQL expression of the dashboard to data after scraping a server under traffic', async () => {
    const expressions = dashboardExpressions();
    expect(expressions.length).toBeGreaterThanOrEqual(20);

    // Traffic for ~6 s of 1 s scrapes: rates and quantiles need increases between samples.
    // Each round: a cache miss (new prompt), a hit (a prompt asked before), a stream, an error.
    const stopAt = Date.now() + 6000;
    let round = 0;
    while (Date.now() < stopAt) {
      round++;
      await Promise.all([
        app.request('POST', '/api/v1/code/generate', { body: { prompt: `Write a function number ${round}` } }),
        app.request('POST', '/api/v1/code/generate', { body: { prompt: 'Write a function that adds two numbers' } }),
        postSse(app.url, '/api/v1/code/generate/stream', { prompt: `Write a parser number ${round}`, max_tokens: 40 }),
      ]);
      await app.request('GET', '/api/v1/probe/fail');
      // Past the first request of the window, every one is refused by the real limiter.
      const models = await app.request('GET', '/api/v1/code/models');
      if (round > 1) expect(models.status).toBe(429);
      await sleep(100);
    }
    const metrics = (await app.request('GET', '/metrics')).text;
    expect(metrics).toMatch(/^hapa_cache_hits_total\{cache_type="code_generation"\} [1-9]/m);
    expect(metrics).toMatch(/^hapa_cache_misses_total\{cache_type="code_generation"\} [1-9]/m);
    expect(metrics).toMatch(/^hapa_model_server_up\{server="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^hapa_dependency_up\{dependency="postgres"\} 1$/m);
    expect(metrics).toMatch(/^hapa_dependency_up\{dependency="model_server"\} 1$/m);
    expect(metrics).not.toMatch(/^hapa_dependency_up\{dependency="redis"\}/m); // no REDIS_URL: nothing to be down
    // Streams and one-shot requests are told apart, so one-shot latency is not drowned by stream lengths.
    expect(metrics).toMatch(
      /^hapa_request_duration_seconds_count\{[^}]*route="\/api\/v1\/code\/generate\/stream",stream="true"\} [1-9]/m,
    );
    expect(metrics).toMatch(
      /^hapa_request_duration_seconds_count\{[^}]*route="\/api\/v1\/code\/generate",stream="false"\} [1-9]/m,
    );
    expect(metrics).toMatch(/^hapa_active_streams 0$/m); // every stream ended
    expect(metrics).toMatch(/^hapa_rate_limited_total\{route="\/api\/v1\/code\/models"\} [1-9]/m);
    let during = '';
    emu.configure({ tokenDelayMs: 20 }); // ~0.8 s of stream to read the gauge in
    await postSse(
      app.url,
      '/api/v1/code/generate/stream',
      { prompt: 'Write a slow function', max_tokens: 40, cache: false },
      {
        onFrame: (f) => {
          if (f.data?.type === 'start') void app.request('GET', '/metrics').then((r) => (during = r.text));
        },
      },
    );
    expect(during).toMatch(/^hapa_active_streams 1$/m);
    // Wait until Prometheus holds enough samples of the target.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await query(promUrl, 'count_over_time(hapa_requests_total[1m])');
      const samples = Number(r.data?.result[0]?.value[1] ?? 0);
      if (samples >= 5) break;
      if (Date.now() > deadline) throw new Error(`too few scrapes:\n${promLog.join('')}`);
      await sleep(500);
    }

    const failures: string[] = [];
    for (const { panel, expr } of expressions) {
      const r = await query(promUrl, expand(expr));
      if (r.status !== 'success') {
        failures.push(`${panel}: ${expr} → ${r.error}`);
        continue;
      }
      const values = (r.data?.result ?? []).map((s) => Number(s.value[1]));
      if (!values.some((v) => Number.isFinite(v)))
        failures.push(`${panel}: ${expr} → no data (${JSON.stringify(r.data?.result)})`);
    }
    expect(failures).toEqual([]);
  }, 90_000);
});
