import { BeforeApplicationShutdown, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Counter } from 'prom-client';
import {
  isDataError,
  RejectedRows,
  SalvageInterrupted,
  SalvageResult,
  writeSalvaging,
} from '../common/batching/salvage';
import { SerialFlusher } from '../common/batching/serial-flusher';
import { ErrorEvent, ErrorReporter, LoggingErrorReporter } from '../common/errors/error-reporter';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { ErrorAggregator, ErrorBatch } from './error-aggregator';
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
  /** Rows (count increments, incident updates, details) dropped because the database refused them. */
  private readonly rejectedRows: RejectedRows;

  /** Rows the database refused and that were dropped (salvaged batches). */
  get rejected(): number {
    return this.rejectedRows.total;
  }

  constructor(
    private readonly logging: LoggingErrorReporter,
    private readonly repo: ErrorMonitoringRepository,
    private readonly logger: AppLogger,
    private readonly config: AppConfig,
    @InjectMetric(ERRORS_TOTAL) private readonly errorsTotal: Counter<'error_code'>,
  ) {
    super();
    this.rejectedRows = new RejectedRows(this.logger, 'error monitoring: dropped rows the database rejected');
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
      if (!isDataError(e)) {
        this.aggregator.restore(batch);
        throw e;
      }
      await this.salvage(batch);
    }
  }

  // Some row can never be written: write the rest around it rather than losing or retrying the whole batch.
  private async salvage(batch: ErrorBatch): Promise<void> {
    const results: SalvageResult[] = [];
    try {
      results.push(await writeSalvaging(batch.counts, (rows) => this.repo.writeCounts(rows)));
      results.push(await writeSalvaging(batch.incidents, (rows) => this.repo.writeIncidents(rows)));
      results.push(await writeSalvaging(batch.details, (rows) => this.repo.writeDetails(rows)));
    } catch (e) {
      if (!(e instanceof SalvageInterrupted)) throw e;
      // Not the rows' fault (connection lost…): put back what was not written.
      const stage = results.length;
      const left = <T>(i: number, rows: T[]): T[] => (i < stage ? [] : i === stage ? (e.remaining as T[]) : rows);
      this.aggregator.restore({
        counts: left(0, batch.counts),
        incidents: left(1, batch.incidents),
        details: left(2, batch.details),
      });
      results.push(e.result);
      throw e.cause;
    } finally {
      this.rejectedRows.add(results);
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
