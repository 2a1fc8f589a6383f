import { BeforeApplicationShutdown, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import { Counter, Histogram } from 'prom-client';
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
import { clip, clipOptional, storedMethod } from '../common/batching/stored-values';
import { AppRequest, AuthPrincipal, routeTemplate } from '../common/http/app-request';
import { AppLogger } from '../common/logging/json-logger';
import { UsageAnnotation } from '../common/ports/usage-annotation';
import { AppConfig } from '../config/app-config';
import { AnalyticsRepository, CompletionEvent, UsageEvent, UsageSurface } from './analytics.repository';
import { clientFromUserAgent } from './client-agent';

export const TOKENS_USED = 'hapa_ai_tokens_used_total';
export const TIME_TO_FIRST_TOKEN = 'hapa_ai_time_to_first_token_seconds';
export const UPSTREAM_DURATION = 'hapa_ai_upstream_duration_seconds';
export const GATEWAY_OVERHEAD = 'hapa_gateway_overhead_seconds';

const FLUSH_INTERVAL_MS = 1000;
const FLUSH_THRESHOLD = 1000;
// Beyond this many unwritten events (database down for long) new ones are dropped, counted and logged.
const MAX_PENDING = 100_000;
const SPILL_SOURCE = 'usage';
// Column lengths in usage_events (migrations/*-ErrorMonitoringAndAnalytics.ts).
const ROUTE_MAX = 200;
const ID_MAX = 64;

/**
 * One usage event per request (health and metrics excluded), recorded when the response closes and
 * written in batches; token, time-to-first-token, upstream and overhead metrics come from the same
 * `res.locals.usage` annotation the model routes set.
 */
@Injectable()
export class UsageRecorder implements OnModuleInit, BeforeApplicationShutdown {
  private usage: UsageEvent[] = [];
  private completions: CompletionEvent[] = [];
  private readonly flusher: SerialFlusher;
  private readonly apiHealthRoute: string;
  private readonly apiPrefix: string;
  private lastFailureLog = 0;
  private lastOverflowLog = 0;
  private readonly spill: SpillDirectory;
  /** Events dropped because too many were waiting (database down for long). */
  dropped = 0;
  /** Events dropped because the database refused them (a data error on that very row). */
  private readonly rejectedRows: RejectedRows;

  /** Rows the database refused and that were dropped (salvaged batches). */
  get rejected(): number {
    return this.rejectedRows.total;
  }

  constructor(
    private readonly repo: AnalyticsRepository,
    private readonly logger: AppLogger,
    config: AppConfig,
    @InjectMetric(TOKENS_USED) private readonly tokens: Counter<'adapter' | 'direction'>,
    @InjectMetric(TIME_TO_FIRST_TOKEN) private readonly ttft: Histogram,
    @InjectMetric(UPSTREAM_DURATION) private readonly upstream: Histogram,
    @InjectMetric(GATEWAY_OVERHEAD) private readonly overhead: Histogram,
    @InjectMetric(TELEMETRY_SPILLED) private readonly spilled: Counter<'source' | 'direction'>,
    @InjectMetric(TELEMETRY_OVERFLOW) private readonly overflow: Counter<'source'>,
  ) {
    this.spill = new SpillDirectory(config.database.dataDir, SPILL_SOURCE);
    this.rejectedRows = new RejectedRows(this.logger, 'analytics: dropped events the database rejected');
    this.apiHealthRoute = `${config.http.apiPrefix}/health`;
    this.apiPrefix = config.http.apiPrefix;
    this.flusher = new SerialFlusher(
      () => this.write(),
      (e) => this.logFailure(e),
    );
  }

  onModuleInit(): void {
    this.restoreSpilled();
    this.flusher.start(FLUSH_INTERVAL_MS);
  }

  // Runs after the HTTP drain (server-lifecycle) and before TypeORM closes in onApplicationShutdown.
  async beforeApplicationShutdown(): Promise<void> {
    this.flusher.stop();
    await this.flush();
    this.spillPending();
  }

  get pending(): number {
    return this.usage.length + this.completions.length;
  }

  recordCompletionEvent(event: CompletionEvent): void {
    if (!this.accept()) return;
    this.completions.push(event);
  }

  /** Writes everything recorded so far (tests and shutdown). */
  flush(): Promise<void> {
    return this.flusher.flush();
  }

  /** Response closed: one usage event (called by the request pipeline). */
  readonly onClose = (req: AppRequest, res: Response): void => {
    try {
      const route = routeTemplate(req);
      if (route === '/metrics' || route.startsWith('/health') || route === this.apiHealthRoute) return;
      const latencyMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
      const usage = res.locals.usage as UsageAnnotation | undefined;
      if (usage) this.observe(usage, latencyMs);
      if (!this.accept()) return;
      const principal: AuthPrincipal | undefined = req.principal;
      const surface: UsageSurface | undefined = route.startsWith('/v1/')
        ? 'openai'
        : route.startsWith(this.apiPrefix + '/')
          ? 'hapa'
          : undefined;
      // Stored values are made to fit here: one row the database refuses costs a slower flush.
      this.usage.push({
        at: new Date(),
        apiKeyId: clipOptional(principal?.apiKeyId, ID_MAX),
        userId: clipOptional(principal?.userId, ID_MAX),
        method: storedMethod(req.method),
        route: clip(route, ROUTE_MAX),
        status: usage?.inBandErrorStatus ?? res.statusCode,
        latencyMs,
        usage: usage && storableUsage(usage),
        surface,
        client: clientFromUserAgent(req.headers['user-agent']),
      });
    } catch (e) {
      this.logFailure(e);
    }
  };

  private accept(): boolean {
    if (this.pending >= MAX_PENDING) {
      this.overflowed(1);
      return false;
    }
    if (this.pending + 1 >= FLUSH_THRESHOLD) void this.flusher.flush();
    return true;
  }

  private observe(u: UsageAnnotation, latencyMs: number): void {
    const adapter = u.adapter ?? 'unknown';
    if (u.promptTokens) this.tokens.inc({ adapter, direction: 'input' }, u.promptTokens);
    if (u.completionTokens) this.tokens.inc({ adapter, direction: 'output' }, u.completionTokens);
    if (u.ttftMs !== undefined) this.ttft.observe(u.ttftMs / 1000);
    if (u.upstreamMs !== undefined) {
      this.upstream.observe(u.upstreamMs / 1000);
      this.overhead.observe(Math.max(0, latencyMs - u.upstreamMs) / 1000);
    }
  }

  private async write(): Promise<void> {
    if (this.usage.length === 0 && this.completions.length === 0) return;
    const usage = this.usage;
    const completions = this.completions;
    this.usage = [];
    this.completions = [];
    try {
      await this.repo.insertBatch(usage, completions);
    } catch (e) {
      if (!isDataError(e)) {
        this.keep(usage, completions);
        throw e;
      }
      await this.salvage(usage, completions);
    }
  }

  // Some row can never be written: write the rest around it rather than retrying the batch forever.
  private async salvage(usage: UsageEvent[], completions: CompletionEvent[]): Promise<void> {
    const results: SalvageResult[] = [];
    try {
      results.push(await writeSalvaging(usage, (rows) => this.repo.insertUsage(rows)));
      results.push(await writeSalvaging(completions, (rows) => this.repo.insertCompletions(rows)));
    } catch (e) {
      if (!(e instanceof SalvageInterrupted)) throw e;
      // Not the rows' fault (connection lost…): keep what was not written.
      if (results.length === 0) this.keep(e.remaining as UsageEvent[], completions);
      else this.keep([], e.remaining as CompletionEvent[]);
      results.push(e.result);
      throw e.cause;
    } finally {
      this.rejectedRows.add(results);
    }
  }

  // Back in front of the buffers for the next attempt; past MAX_PENDING the oldest go, counted.
  private keep(usage: UsageEvent[], completions: CompletionEvent[]): void {
    this.usage = usage.concat(this.usage);
    this.completions = completions.concat(this.completions);
    const excess = this.pending - MAX_PENDING;
    if (excess <= 0) return;
    const fromUsage = Math.min(excess, this.usage.length);
    this.usage = this.usage.slice(fromUsage);
    this.completions = this.completions.slice(excess - fromUsage);
    this.overflowed(excess);
  }

  private overflowed(count: number): void {
    this.dropped += count;
    this.overflow.inc({ source: SPILL_SOURCE }, count);
    const now = Date.now();
    if (now - this.lastOverflowLog < 60_000) return;
    this.lastOverflowLog = now;
    this.logger.write('warn', 'analytics: buffer full while the database is unreachable, dropping events', {
      pending: this.pending,
      dropped_total: this.dropped,
    });
  }

  // The database is still unreachable at shutdown: the next start writes these.
  private spillPending(): void {
    const count = this.pending;
    if (count === 0) return;
    try {
      const file = this.spill.write({ usage: this.usage, completions: this.completions });
      this.usage = [];
      this.completions = [];
      this.spilled.inc({ source: SPILL_SOURCE, direction: 'out' }, count);
      this.logger.write('warn', 'analytics: database unreachable at shutdown, events kept for the next start', {
        events: count,
        file,
      });
    } catch (e) {
      this.logger.write('error', 'analytics: events could not be written nor kept', {
        events: count,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  private restoreSpilled(): void {
    let count = 0;
    for (const payload of this.spill.take()) {
      const p = payload as { usage?: unknown; completions?: unknown };
      const usage = reviveDates<UsageEvent>(p.usage, ['at']);
      const completions = reviveDates<CompletionEvent>(p.completions, ['at']);
      this.keep(usage, completions);
      count += usage.length + completions.length;
    }
    if (count === 0) return;
    this.spilled.inc({ source: SPILL_SOURCE, direction: 'in' }, count);
    this.logger.write('info', 'analytics: events left by an earlier shutdown restored, writing them', {
      events: count,
    });
  }

  private logFailure(e: unknown): void {
    const now = Date.now();
    if (now - this.lastFailureLog < 60_000) return;
    this.lastFailureLog = now;
    this.logger.write('warn', 'analytics: could not record usage (kept in memory, retrying)', {
      error: e instanceof Error ? e.message : String(e),
      pending: this.pending,
    });
  }
}

function storableUsage(u: UsageAnnotation): UsageAnnotation {
  const adapter = clipOptional(u.adapter, ID_MAX);
  const completionId = clipOptional(u.completionId, ID_MAX);
  const requestedModel = clipOptional(u.requestedModel, ID_MAX);
  return adapter === u.adapter && completionId === u.completionId && requestedModel === u.requestedModel
    ? u
    : { ...u, adapter, completionId, requestedModel };
}
