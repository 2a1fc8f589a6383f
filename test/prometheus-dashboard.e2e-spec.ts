import { Controller, Get, Injectable, Module, Res } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { AppException } from '../src/common/errors/app.exception';
import { ErrorCode } from '../src/common/errors/error-codes';
import { annotateUsage } from '../src/common/ports/usage-annotation';
import { startTestApp, TestApp } from './support/test-app';

const ROOT = path.resolve(__dirname, '..');
const DASHBOARD = path.join(ROOT, 'deploy/grafana/dashboards/hapa.json');
const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
// Grafana's interval variables, as Grafana would expand them for a 1 s scrape interval.
const GRAFANA_VARIABLES: Record<string, string> = { $__rate_interval: '1m', $__interval: '15s', $__range: '5m' };

// STAND-INS: metrics emitted by modules written in parallel (cache, streaming, model-server pool,
// rate limiting). Same names, types and labels as theirs; once merged, delete StandInMetrics and let
// the traffic below exercise the real emitters.
@Injectable()
class StandInMetrics {
  constructor(
    @InjectMetric('hapa_cache_hits_total') readonly cacheHits: Counter,
    @InjectMetric('hapa_cache_misses_total') readonly cacheMisses: Counter,
    @InjectMetric('hapa_active_streams') readonly activeStreams: Gauge,
    @InjectMetric('hapa_model_server_up') readonly modelServerUp: Gauge<'server'>,
    @InjectMetric('hapa_rate_limited_total') readonly rateLimited: Counter<'route'>,
  ) {}

  tick(): void {
    this.cacheHits.inc();
    this.cacheMisses.inc();
    this.activeStreams.set(2);
    this.modelServerUp.set({ server: 'emulator' }, 1);
    this.rateLimited.inc({ route: '/api/v1/code/generate' });
  }
}

// Stands in for the model routes: the usage annotation feeds tokens, TTFT, upstream and overhead.
@Controller('probe')
class TrafficController {
  constructor(private readonly standIns: StandInMetrics) {}

  @Get('model') model(@Res({ passthrough: true }) res: Response) {
    this.standIns.tick();
    annotateUsage(res, {
      adapter: 'code_generation',
      promptTokens: 12,
      completionTokens: 30,
      ttftMs: 40,
      upstreamMs: 60,
    });
    return { ok: true };
  }
  @Get('fail') fail(): never {
    throw new AppException(ErrorCode.E5005);
  }
}

@Module({
  controllers: [TrafficController],
  providers: [
    StandInMetrics,
    makeCounterProvider({ name: 'hapa_cache_hits_total', help: 'Response cache hits' }),
    makeCounterProvider({ name: 'hapa_cache_misses_total', help: 'Response cache misses' }),
    makeGaugeProvider({ name: 'hapa_active_streams', help: 'SSE streams in progress' }),
    makeGaugeProvider({
      name: 'hapa_model_server_up',
      help: 'Model server health (1 up, 0 down)',
      labelNames: ['server'],
    }),
    makeCounterProvider({
      name: 'hapa_rate_limited_total',
      help: 'Requests refused by rate limiting',
      labelNames: ['route'],
    }),
  ],
})
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function query(
  base: string,
  expr: string,
): Promise<{ status: string; error?: string; data?: { result: { value: [number, string] }[] } }> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as never;
}

describe('Grafana dashboard against a real Prometheus', () => {
  let app: TestApp;
  let prometheus: ChildProcess;
  let promUrl: string;
  let dir: string;
  const promLog: string[] = [];

  beforeAll(async () => {
    if (!existsSync(PROMETHEUS_BIN)) throw new Error(`${PROMETHEUS_BIN} missing: apt-get install -y prometheus`);
    app = await startTestApp({ extraModules: [TrafficModule], redis: false, logLevel: 'warn' });
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
      'Latency percentiles',
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
    const stopAt = Date.now() + 6000;
    while (Date.now() < stopAt) {
      await Promise.all([app.request('GET', '/api/v1/probe/model'), app.request('GET', '/api/v1/probe/model')]);
      await app.request('GET', '/api/v1/probe/fail');
      await sleep(100);
    }
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
