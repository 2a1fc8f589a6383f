import { Injectable } from '@nestjs/common';
import { inspect } from 'node:util';
import { ErrorCode } from '../common/errors/error-codes';
import { ErrorReporter } from '../common/errors/error-reporter';
import { newIncidentId } from '../common/errors/incident-id';
import { AppLogger } from '../common/logging/json-logger';
import { RedisService } from '../redis/redis.service';

export const RATE_LIMIT_STORE_ROUTE = 'internal:rate-limit-store';

/**
 * Shared by the rate limiter and stream slots: while Redis is unreachable they fall back to
 * per-instance memory, and exactly one E5009 event is reported per outage.
 */
@Injectable()
export class StoreOutageMonitor {
  private inOutage = false;

  constructor(
    private readonly reporter: ErrorReporter,
    private readonly logger: AppLogger,
    redis: RedisService,
  ) {
    redis.onStateChange((state) => {
      if (state === 'connected') this.recovered();
    });
  }

  /** Redis is configured but could not serve a limiter operation. */
  failed(cause?: unknown): void {
    if (this.inOutage) return;
    this.inOutage = true;
    const message = 'Rate-limit store unavailable: limits are enforced per instance until Redis returns';
    this.reporter.report({
      code: ErrorCode.E5009,
      status: 503,
      message,
      route: RATE_LIMIT_STORE_ROUTE,
      method: 'INTERNAL',
      path: RATE_LIMIT_STORE_ROUTE,
      requestId: 'internal',
      incidentId: newIncidentId(),
      at: new Date(),
      internal: cause === undefined ? 'redis not ready' : cause instanceof Error ? String(cause) : inspect(cause),
    });
  }

  recovered(): void {
    if (!this.inOutage) return;
    this.inOutage = false;
    this.logger.write('info', 'rate-limit store back on Redis');
  }

  get degraded(): boolean {
    return this.inOutage;
  }
}
