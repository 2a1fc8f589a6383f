import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectMetric, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Gauge } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { CheckListener, Dependency, HealthService } from './health.service';

export type { CheckListener, Dependency };

export const DEPENDENCY_UP = 'hapa_dependency_up';

export const dependencyUpGauge = makeGaugeProvider({
  name: DEPENDENCY_UP,
  help: '1 when the dependency answers its health check (dependency = postgres, redis, model_server); no series when not configured',
  labelNames: ['dependency'],
  aggregator: 'min', // WORKERS > 1: up only if every worker reaches it
});

/**
 * Keeps hapa_dependency_up current without touching the request path: the health checks set it
 * whenever they run (probes, /health), a background round of the same checks runs every
 * HEALTH_PROBE_INTERVAL, and Redis connection changes are applied as they happen.
 */
@Injectable()
export class DependencyMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly health: HealthService,
    private readonly config: AppConfig,
    redis: RedisService,
    @InjectMetric(DEPENDENCY_UP) gauge: Gauge<'dependency'>,
  ) {
    health.onCheck((dependency, check) => {
      if (check.status === 'not_configured') gauge.remove({ dependency });
      else gauge.set({ dependency }, check.status === 'up' ? 1 : 0);
    });
    redis.onStateChange((state) => gauge.set({ dependency: 'redis' }, state === 'connected' ? 1 : 0));
  }

  onApplicationBootstrap(): void {
    void this.round();
    this.timer = setInterval(() => void this.round(), this.config.modelServer.probeIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async round(): Promise<void> {
    if (this.running) return; // a check still waiting on its timeout
    this.running = true;
    try {
      await this.health.all();
    } finally {
      this.running = false;
    }
  }
}
