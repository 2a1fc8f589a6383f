import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { clip, clipOptional } from '../common/batching/stored-values';
import { AuthPrincipal } from '../common/http/app-request';
import { Period, PERIOD_SECONDS, periodStart } from '../common/http/period';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { AnalyticsRepository, UsageGroupRow, UsageSummaryRow } from './analytics.repository';
import {
  AnalyticsDashboardDto,
  CompletionEventDto,
  ModelUsageDto,
  PerformanceDto,
  UsageDto,
  UsageGroupBy,
  UsageRowDto,
} from './dto/analytics.dto';
import { UsageRecorder } from './usage-recorder';
import { SerialFlusher } from '../common/batching/serial-flusher';

const RETENTION_INTERVAL_MS = 3600_000;

@Injectable()
export class AnalyticsService implements OnModuleInit, OnModuleDestroy {
  private readonly retention: SerialFlusher;

  constructor(
    private readonly repo: AnalyticsRepository,
    private readonly recorder: UsageRecorder,
    private readonly config: AppConfig,
    private readonly logger: AppLogger,
  ) {
    this.retention = new SerialFlusher(
      async () => void (await this.purgeExpired()),
      (e) => this.logger.write('warn', 'analytics: retention run failed', { error: String(e) }),
    );
  }

  onModuleInit(): void {
    this.retention.start(RETENTION_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.retention.stop();
  }

  /** The scheduled retention job: drops usage and completion events older than ANALYTICS_RETENTION_DAYS. */
  async purgeExpired(now = Date.now()): Promise<{ usage: number; completions: number }> {
    const cutoff = new Date(now - this.config.analytics.retentionDays * 86_400_000);
    const deleted = await this.repo.deleteOlderThan(cutoff);
    this.logger.write('info', 'analytics: retention', { cutoff: cutoff.toISOString(), ...deleted });
    return deleted;
  }

  recordCompletionEvent(dto: CompletionEventDto, principal?: AuthPrincipal): { status: 'accepted' } {
    this.recorder.recordCompletionEvent({
      at: new Date(),
      type: dto.type,
      // The DTO admits only safe characters; clipped all the same, a refused row slows the flush.
      completionId: clip(dto.completion_id, 64),
      language: clipOptional(dto.language, 32),
      elapsedMs: dto.elapsed_ms,
      apiKeyId: clipOptional(principal?.apiKeyId, 64),
      userId: clipOptional(principal?.userId, 64),
    });
    return { status: 'accepted' };
  }

  async performance(period: Period = '24h'): Promise<PerformanceDto> {
    const s = await this.repo.summary(periodStart(period));
    return {
      period,
      total_requests: s.requests,
      avg_response_time: round(s.avg_latency_ms ?? 0, 2),
      requests_per_minute: round(s.requests / (PERIOD_SECONDS[period] / 60), 4),
      cache_hit_rate: cacheHitRate(s),
      error_rate: s.requests > 0 ? round(s.errors / s.requests, 4) : 0,
      ai_model_usage: modelUsage(s),
      latency: { avg_ms: r2(s.avg_latency_ms), p50_ms: r2(s.p50_ms), p95_ms: r2(s.p95_ms), p99_ms: r2(s.p99_ms) },
      time_to_first_token: {
        avg_ms: r2(s.avg_ttft_ms),
        p50_ms: r2(s.ttft_p50_ms),
        p95_ms: r2(s.ttft_p95_ms),
        p99_ms: r2(s.ttft_p99_ms),
      },
    };
  }

  async usage(groupBy: UsageGroupBy = 'day', period: Period = '24h', limit = 100): Promise<UsageDto> {
    const rows = await this.repo.groupBy(groupBy, periodStart(period), limit);
    return { group_by: groupBy, period, items: rows.map(toRow) };
  }

  async dashboard(period: Period = '24h'): Promise<AnalyticsDashboardDto> {
    const since = periodStart(period);
    const [s, byDay, routes, users, keys, adapters, completions] = await Promise.all([
      this.repo.summary(since),
      this.repo.groupBy('day', since, 400),
      this.repo.groupBy('route', since, 10),
      this.repo.groupBy('user', since, 10),
      this.repo.groupBy('key', since, 10),
      this.repo.groupBy('adapter', since, 20, true),
      this.repo.completionsByDay(since),
    ]);
    const views = completions.reduce((n, d) => n + d.views, 0);
    const selects = completions.reduce((n, d) => n + d.selects, 0);
    const dismisses = completions.reduce((n, d) => n + d.dismisses, 0);
    return {
      period,
      traffic: {
        total_requests: s.requests,
        requests_per_minute: round(s.requests / (PERIOD_SECONDS[period] / 60), 4),
        error_responses: s.errors,
        by_day: byDay.map(toRow),
        top_routes: routes.map(toRow),
      },
      top_users: users.filter((u) => u.group !== null).map(toRow),
      top_keys: keys.filter((k) => k.group !== null).map(toRow),
      adapters: adapters.map(toRow),
      errors: { total: s.errors, rate: s.requests > 0 ? round(s.errors / s.requests, 4) : 0 },
      cache: { hits: s.cache_hits, misses: s.cache_misses, hit_rate: cacheHitRate(s) },
      ai_model_usage: modelUsage(s),
      completions: {
        views,
        selects,
        dismisses,
        acceptance_rate: views > 0 ? round(selects / views, 4) : null,
        by_day: completions.map((d) => ({ ...d, acceptance_rate: d.views > 0 ? round(d.selects / d.views, 4) : null })),
      },
    };
  }
}

function toRow(r: UsageGroupRow): UsageRowDto {
  return {
    key: r.group,
    requests: r.requests,
    errors: r.errors,
    prompt_tokens: r.prompt_tokens,
    completion_tokens: r.completion_tokens,
    total_tokens: r.prompt_tokens + r.completion_tokens,
    avg_latency_ms: r2(r.avg_latency_ms),
    cache_hits: r.cache_hits,
  };
}

function modelUsage(s: UsageSummaryRow): ModelUsageDto {
  const total = s.prompt_tokens + s.completion_tokens;
  return {
    total_tokens: total,
    prompt_tokens: s.prompt_tokens,
    completion_tokens: s.completion_tokens,
    avg_tokens_per_request: s.model_requests > 0 ? round(total / s.model_requests, 2) : 0,
    model_requests: s.model_requests,
  };
}

function cacheHitRate(s: UsageSummaryRow): number {
  const lookups = s.cache_hits + s.cache_misses;
  return lookups > 0 ? round(s.cache_hits / lookups, 4) : 0;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

const r2 = (n: number | null): number | null => (n === null ? null : round(n, 2));
