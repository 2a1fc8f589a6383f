import { DynamicModule, Global, Module } from '@nestjs/common';
import { makeCounterProvider, makeHistogramProvider, PrometheusModule } from '@willsoto/nestjs-prometheus';
import { collectDefaultMetrics, register } from 'prom-client';
import { MetricsController } from './cluster-metrics';
import { HttpMetricsService } from './http-metrics.service';

export const REQUESTS_TOTAL = 'hapa_requests_total';
export const REQUEST_DURATION = 'hapa_request_duration_seconds';

const httpMetricProviders = [
  makeCounterProvider({
    name: REQUESTS_TOTAL,
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'],
  }),
  makeHistogramProvider({
    name: REQUEST_DURATION,
    help: 'HTTP request duration by method and route template; stream="true" for SSE responses (whole-stream time)',
    labelNames: ['method', 'route', 'stream'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  }),
];

/**
 * Prometheus text at GET /metrics (when PROMETHEUS_ENABLED). Metrics live in prom-client's default
 * registry; modules add theirs with make*Provider, which reuses a metric already registered.
 */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(enabled: boolean): DynamicModule {
    // Default process metrics are registered once per process (tests start several apps).
    if (!register.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics();
    const prometheus = PrometheusModule.register({
      path: '/metrics',
      defaultMetrics: { enabled: false },
      controller: MetricsController,
    });
    return {
      module: MetricsModule,
      imports: enabled ? [prometheus] : [],
      providers: [...httpMetricProviders, HttpMetricsService],
      exports: [...httpMetricProviders, HttpMetricsService],
    };
  }
}
