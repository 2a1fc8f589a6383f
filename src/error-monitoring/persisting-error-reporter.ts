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
import { reviveDates, SpillDirectory } from '../common/batching/spill-file';
import { TELEMETRY_OVERFLOW, TELEMETRY_SPILLED } from '../common/batching/telemetry-metrics';
import { ErrorEvent, ErrorReporter, LoggingErrorReporter } from '../common/errors/error-reporter';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { ErrorAggregator, ErrorBatch, ErrorCountRow, ErrorDetailRow, IncidentDelta } from './error-aggregator';
import { ErrorMonitoringRepository } from './error-monitoring.repository';

export const ERRORS_TOTAL = 'hapa_errors_total';
const FLUSH_INTERVAL_MS = 1000;
const SPILL_SOURCE = 'errors';

/**
 * The ErrorReporter bound app-wide: logs like LoggingErrorReporter, counts in Prometheus, and
 * aggregates into memory that a background flush writes to PostgreSQL. report() never blocks or throws.
 */
@Injectable()
export class PersistingErrorReporter extends ErrorReporter implements OnModuleInit, BeforeApplicationShutdown {
  readonly aggregator: ErrorAggregator;
  private readonly flusher: SerialFlusher;
  private lastFailureLog = 0;
  private lastOverflowLog = 0;
  private overflowSeen = 0;
  private readonly spill: SpillDirectory;
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
    @InjectMetric(TELEMETRY_SPILLED) private readonly spilled: Counter<'source' | 'direction'>,
    @InjectMetric(TELEMETRY_OVERFLOW) private readonly overflow: Counter<'source'>,
  ) {
    super();
    this.spill = new SpillDirectory(config.database.dataDir, SPILL_SOURCE);
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
    if (!this.config.errorMonitoring.enabled) return;
    this.restoreSpilled();
    this.flusher.start(FLUSH_INTERVAL_MS);
  }

  // Before, not on, application shutdown: TypeORM closes its connection in onApplicationShutdown.
  async beforeApplicationShutdown(): Promise<void> {
    this.flusher.stop();
    await this.flush();
    this.spillPending();
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
    this.countOverflow();
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

  // The pending bounds (details, incidents) dropped rows since the last look: count and log them.
  private countOverflow(): void {
    const total = this.aggregator.overflowDetails + this.aggregator.droppedIncidentUpdates;
    const fresh = total - this.overflowSeen;
    if (fresh <= 0) return;
    this.overflowSeen = total;
    this.overflow.inc({ source: SPILL_SOURCE }, fresh);
    const now = Date.now();
    if (now - this.lastOverflowLog < 60_000) return;
    this.lastOverflowLog = now;
    this.logger.write('warn', 'error monitoring: buffer full while the database is unreachable, dropping rows', {
      dropped_total: total,
    });
  }

  // The database is still unreachable at shutdown: the next start writes these.
  private spillPending(): void {
    this.countOverflow();
    if (!this.config.errorMonitoring.enabled || this.aggregator.isEmpty()) return;
    const batch = this.aggregator.take();
    const rows = batch.counts.length + batch.incidents.length + batch.details.length;
    try {
      const file = this.spill.write(batch);
      this.spilled.inc({ source: SPILL_SOURCE, direction: 'out' }, rows);
      this.logger.write('warn', 'error monitoring: database unreachable at shutdown, rows kept for the next start', {
        rows,
        file,
      });
    } catch (e) {
      this.logger.write('error', 'error monitoring: rows could not be written nor kept', {
        rows,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  private restoreSpilled(): void {
    let rows = 0;
    for (const payload of this.spill.take()) {
      const p = payload as Partial<Record<keyof ErrorBatch, unknown>>;
      const batch: ErrorBatch = {
        counts: reviveDates<ErrorCountRow>(p.counts, ['minute']),
        incidents: reviveDates<IncidentDelta>(p.incidents, ['firstSeen', 'lastSeen']),
        details: reviveDates<ErrorDetailRow>(p.details, ['at']),
      };
      this.aggregator.restore(batch);
      rows += batch.counts.length + batch.incidents.length + batch.details.length;
    }
    if (rows === 0) return;
    this.spilled.inc({ source: SPILL_SOURCE, direction: 'in' }, rows);
    this.logger.write('info', 'error monitoring: rows left by an earlier shutdown restored, writing them', { rows });
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
