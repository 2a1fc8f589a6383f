import { BeforeApplicationShutdown, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Counter } from 'prom-client';
import { SerialFlusher } from '../common/batching/serial-flusher';
import { ErrorEvent, ErrorReporter, LoggingErrorReporter } from '../common/errors/error-reporter';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { ErrorAggregator } from './error-aggregator';
import { ErrorMonitoringRepository } from './error-monitoring.repository';

export const ERRORS_TOTAL = 'hapa_errors_total';
const FLUSH_INTERVAL_MS = 1000;

/**
 * The ErrorReporter bound app-wide: logs like LoggingErrorReporter, counts in Prometheus, and
 * aggregates into memory that a background flush writes to PostgreSQL. report() never blocks or throws.
 */
@Injectable()
export class PersistingErrorReporter extends ErrorReporter implements OnModuleInit, BeforeApplicationShutdown {
  readonly aggregator: ErrorAggregator;
  private readonly flusher: SerialFlusher;
  private lastFailureLog = 0;

  constructor(
    private readonly logging: LoggingErrorReporter,
    private readonly repo: ErrorMonitoringRepository,
    private readonly logger: AppLogger,
    private readonly config: AppConfig,
    @InjectMetric(ERRORS_TOTAL) private readonly errorsTotal: Counter<'error_code'>,
  ) {
    super();
    this.aggregator = new ErrorAggregator({
      samplePerMinute: config.errorMonitoring.samplePerMinute,
      maxPendingDetails: 5000,
      maxFingerprintsPerMinute: 10_000,
      maxPendingIncidents: 1000,
      incidentTracking: config.errorMonitoring.incidentTracking,
    });
    this.flusher = new SerialFlusher(
      () => this.write(),
      (e) => this.logFailure(e),
    );
  }

  onModuleInit(): void {
    if (this.config.errorMonitoring.enabled) this.flusher.start(FLUSH_INTERVAL_MS);
  }

  // Before, not on, application shutdown: TypeORM closes its connection in onApplicationShutdown.
  async beforeApplicationShutdown(): Promise<void> {
    this.flusher.stop();
    await this.flush();
  }

  report(event: ErrorEvent): void {
    try {
      this.logging.report(event);
      this.errorsTotal.inc({ error_code: event.code });
      if (!this.config.errorMonitoring.enabled) return;
      this.aggregator.add(event);
      if (this.aggregator.wantsFlush) void this.flusher.flush();
    } catch (e) {
      this.logFailure(e);
    }
  }

  /** Writes everything reported so far (tests and shutdown). */
  flush(): Promise<void> {
    return this.flusher.flush();
  }

  private async write(): Promise<void> {
    if (this.aggregator.isEmpty()) return;
    const batch = this.aggregator.take();
    try {
      await this.repo.writeBatch(batch);
    } catch (e) {
      this.aggregator.restore(batch);
      throw e;
    }
  }

  private logFailure(e: unknown): void {
    const now = Date.now();
    if (now - this.lastFailureLog < 60_000) return;
    this.lastFailureLog = now;
    this.logger.write('warn', 'error monitoring: could not record errors (counts kept in memory, retrying)', {
      error: e instanceof Error ? e.message : String(e),
    });
  }
}
