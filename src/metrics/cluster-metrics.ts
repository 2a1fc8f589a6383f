import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import cluster, { Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, register } from 'prom-client';

type RegistryJson = Awaited<ReturnType<typeof register.getMetricsAsJSON>>;

/**
 * With WORKERS > 1 every worker has its own counters, and a scrape lands on any one of them. So a
 * worker's /metrics asks the primary, which collects every serving worker's registry over IPC and
 * sums them with prom-client's AggregatorRegistry: one scrape, the whole server. A replaced worker's
 * counts leave the sum (Prometheus sees a counter reset, which rate() tolerates).
 */
const ASK = 'hapa:metrics?'; // worker -> primary: a scrape arrived
const COLLECT = 'hapa:metrics-collect'; // primary -> every serving worker
const PART = 'hapa:metrics-part'; // worker -> primary: its registry as JSON
const ANSWER = 'hapa:metrics'; // primary -> asking worker: the summed text
const COLLECT_TIMEOUT_MS = 3_000;
const ANSWER_TIMEOUT_MS = 5_000; // longer than the collection, so a slow worker shows as a missing part

interface Answer {
  type: typeof ANSWER;
  id: string;
  text?: string;
  error?: string;
}

/**
 * Primary side: answers a worker's request with the sum over the workers that are serving. Workers
 * still starting are not asked (they would time the scrape out); a dead asker gets nothing.
 */
export function serveClusterMetrics(serving: () => Worker[]): void {
  const pending = new Map<
    string,
    { worker: Worker; left: Set<number>; parts: RegistryJson[]; timer: NodeJS.Timeout }
  >();
  const answer = (worker: Worker, msg: Answer): void => {
    if (worker.isConnected()) worker.send(msg, () => undefined);
  };
  const finish = (id: string): void => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    clearTimeout(p.timer);
    AggregatorRegistry.aggregate(p.parts)
      .metrics()
      .then(
        (text) => answer(p.worker, { type: ANSWER, id, text }),
        (e: unknown) => answer(p.worker, { type: ANSWER, id, error: String(e) }),
      );
  };
  cluster.on('message', (worker, msg: { type?: string; id?: string; metrics?: RegistryJson }) => {
    if (msg?.type === ASK && typeof msg.id === 'string') {
      const workers = serving().filter((w) => w.isConnected());
      const id = msg.id;
      const timer = setTimeout(() => finish(id), COLLECT_TIMEOUT_MS); // a hung worker leaves out its part
      pending.set(id, { worker, left: new Set(workers.map((w) => w.id)), parts: [], timer });
      for (const w of workers) w.send({ type: COLLECT, id }, () => undefined);
      if (workers.length === 0) finish(id);
    } else if (msg?.type === PART && typeof msg.id === 'string') {
      const p = pending.get(msg.id);
      if (!p || !p.left.delete(worker.id)) return;
      p.parts.push(msg.metrics ?? []);
      if (p.left.size === 0) finish(msg.id);
    }
  });
}

const pendingAsks = new Map<string, (msg: Answer) => void>();

/** Worker side: answers the primary's collection requests and routes its answers; call before serving. */
export function joinClusterMetrics(): void {
  if (!cluster.isWorker) return;
  process.on('message', (msg: { type?: string; id?: string }) => {
    if (msg?.type === COLLECT) {
      register.getMetricsAsJSON().then(
        (metrics) => process.send!({ type: PART, id: msg.id, metrics }, () => undefined),
        () => process.send!({ type: PART, id: msg.id, metrics: [] }, () => undefined),
      );
    } else if (msg?.type === ANSWER && typeof msg.id === 'string') {
      pendingAsks.get(msg.id)?.(msg as Answer);
    }
  });
}

function askPrimary(): Promise<string> {
  const id = randomUUID();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pendingAsks.delete(id);
      reject(new Error('cluster metrics: the primary did not answer'));
    }, ANSWER_TIMEOUT_MS);
    pendingAsks.set(id, (msg) => {
      clearTimeout(timer);
      pendingAsks.delete(id);
      if (msg.text !== undefined) resolve(msg.text);
      else reject(new Error(`cluster metrics: ${msg.error ?? 'no answer'}`));
    });
    process.send!({ type: ASK, id });
  });
}

/** GET /metrics: this process's registry, or the whole cluster's when running as a worker. */
@ApiTags('metrics')
@Controller()
export class MetricsController extends PrometheusController {
  @Get()
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'Prometheus text exposition (PROMETHEUS_ENABLED): hapa_* metrics and process metrics; with WORKERS > 1, summed over every worker. Alert rules and a Grafana dashboard for them are under deploy/.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format 0.0.4' })
  override async index(@Res({ passthrough: true }) response: Response): Promise<string> {
    if (!cluster.isWorker) return await super.index(response);
    response.header('Content-Type', register.contentType);
    return askPrimary();
  }
}
