import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import { Counter, Histogram } from 'prom-client';
import { AppRequest, routeTemplate } from '../common/http/app-request';

@Injectable()
export class HttpMetricsService {
  constructor(
    @InjectMetric('hapa_requests_total') private readonly requests: Counter<'method' | 'route' | 'status'>,
    @InjectMetric('hapa_request_duration_seconds')
    private readonly duration: Histogram<'method' | 'route' | 'stream'>,
  ) {}

  /** One observation per finished (or aborted) response. */
  readonly onClose = (req: AppRequest, res: Response): void => {
    const route = routeTemplate(req);
    if (route === '/metrics') return; // scrapes would dominate the figures
    const seconds = Number(process.hrtime.bigint() - req.startedAt) / 1e9;
    this.requests.inc({ method: req.method, route, status: String(res.statusCode) });
    // A stream lasts as long as its generation: kept apart so one-shot latency is not drowned by it.
    const stream = String(res.getHeader('content-type') ?? '').startsWith('text/event-stream') ? 'true' : 'false';
    this.duration.observe({ method: req.method, route, stream }, seconds);
  };
}
