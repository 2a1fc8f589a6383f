import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, register } from 'prom-client';

/**
 * With WORKERS > 1 every worker has its own counters, and a scrape lands on any one of them. So a
 * worker's /metrics asks the primary, which collects every worker's registry over IPC
 * (prom-client's AggregatorRegistry) and answers with the sums: one scrape, the whole server.
 */
const ASK = 'hapa:metrics?';
const ANSWER = 'hapa:metrics';
const ANSWER_TIMEOUT_MS = 5_000;

interface Answer {
  type: typeof ANSWER;
  id: string;
  text?: string;
  error?: string;
}

/** Primary side: answers workers' requests with the aggregate. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, msg: { type?: string; id?: string }) => {
    const id = msg?.id ?? '';
    if (msg?.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id, text } satisfies Answer),
      (e: unknown) => worker.send({ type: ANSWER, id, error: String(e) } satisfies Answer),
    );
  });
}

/** Worker side: lets the primary collect this process's registry (prom-client listens once constructed). */
export function joinClusterMetrics(): void {
  if (cluster.isWorker) new AggregatorRegistry();
}

function askPrimary(): Promise<string> {
  const id = randomUUID();
  return new Promise((resolve, reject) => {
    const onMessage = (msg: Answer): void => {
      if (msg?.type !== ANSWER || msg.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (msg.text !== undefined) resolve(msg.text);
      else reject(new Error(`cluster metrics: ${msg.error ?? 'no answer'}`));
    };
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('cluster metrics: the primary did not answer'));
    }, ANSWER_TIMEOUT_MS);
    process.on('message', onMessage);
    process.send!({ type: ASK, id });
  });
}

/** GET /metrics: this process's registry, or the whole cluster's when running as a worker. */
@ApiTags('metrics')
@Controller()
export class MetricsController extends PrometheusController {
  @Get()
  @ApiOperation({ summary: 'Prometheus text exposition; with WORKERS > 1, summed over every worker' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format 0.0.4' })
  override async index(@Res({ passthrough: true }) response: Response): Promise<string> {
    if (!cluster.isWorker) return (await super.index(response)) as string;
    response.header('Content-Type', register.contentType);
    return askPrimary();
  }
}
