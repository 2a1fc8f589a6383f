import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AnalyticsRepository } from '../analytics/analytics.repository';
import { AppException } from '../common/errors/app.exception';
import { ERROR_CATALOGUE, ErrorCode, isServerError } from '../common/errors/error-codes';
import { Period, PERIOD_SECONDS, periodStart } from '../common/http/period';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import {
  ErrorCodesDto,
  ErrorDashboardDto,
  ErrorPatternsDto,
  IncidentDetailDto,
  IncidentPageDto,
  IncidentQueryDto,
  IncidentSummaryDto,
} from './dto/error-monitoring.dto';
import { IncidentStatus } from './error-monitoring.entities';
import { ErrorMonitoringRepository, IncidentRow } from './error-monitoring.repository';
import { SerialFlusher } from '../common/batching/serial-flusher';

const BUCKETS: Record<Period, { name: 'minute' | 'hour' | 'day'; seconds: number }> = {
  '1h': { name: 'minute', seconds: 60 },
  '24h': { name: 'hour', seconds: 3600 },
  '7d': { name: 'hour', seconds: 3600 },
  '30d': { name: 'day', seconds: 86_400 },
};
// A bucket is a spike when it holds at least this many errors and SPIKE_FACTOR times the period's mean.
const SPIKE_MIN_COUNT = 10;
const SPIKE_FACTOR = 3;
const RETENTION_INTERVAL_MS = 3600_000;

const description = (code: string): string => ERROR_CATALOGUE[code as ErrorCode]?.message ?? code;
const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

@Injectable()
export class ErrorMonitoringService implements OnModuleInit, OnModuleDestroy {
  private readonly retention: SerialFlusher;

  constructor(
    private readonly repo: ErrorMonitoringRepository,
    private readonly analytics: AnalyticsRepository,
    private readonly config: AppConfig,
    private readonly logger: AppLogger,
  ) {
    this.retention = new SerialFlusher(
      async () => void (await this.purgeExpired()),
      (e) => this.logger.write('warn', 'error monitoring: retention run failed', { error: String(e) }),
    );
  }

  onModuleInit(): void {
    this.retention.start(RETENTION_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.retention.stop();
  }

  /** The scheduled retention job: drops error rows older than ERROR_RETENTION_DAYS. */
  async purgeExpired(now = Date.now()): Promise<{ events: number; counts: number; incidents: number }> {
    const cutoff = new Date(now - this.config.errorMonitoring.retentionDays * 86_400_000);
    try {
      const deleted = await this.repo.deleteOlderThan(cutoff);
      this.logger.write('info', 'error monitoring: retention', { cutoff: cutoff.toISOString(), ...deleted });
      return deleted;
    } catch (e) {
      this.logger.write('warn', 'error monitoring: retention failed', { error: (e as Error).message });
      throw e;
    }
  }

  async dashboard(): Promise<ErrorDashboardDto> {
    const since = periodStart('24h');
    const [totals, top, incidents, open, requests] = await Promise.all([
      this.repo.totals(since),
      this.repo.countsByCode(undefined, 10),
      this.repo.recentIncidents(10),
      this.repo.countOpenIncidents(),
      this.analytics.countRequests(since),
    ]);
    return {
      total_errors: totals.total,
      errors_last_24h: totals.last24h,
      error_rate: requests > 0 ? round(totals.last24h / requests, 4) : 0,
      requests_last_24h: requests,
      open_incidents: open,
      top_error_codes: top.map((r) => ({ ...r, description: description(r.code) })),
      recent_incidents: incidents.map(toSummary),
    };
  }

  async patterns(period: Period = '24h'): Promise<ErrorPatternsDto> {
    const now = Date.now();
    const since = periodStart(period, now);
    const bucket = BUCKETS[period];
    const rows = await this.repo.timeline(since, bucket.seconds);
    const byCode = new Map<string, number>();
    const byRoute = new Map<string, number>();
    const byPair = new Map<string, { code: string; route: string; count: number }>();
    const byBucket = new Map<number, { count: number; by_code: Record<string, number> }>();
    let total = 0;
    for (const r of rows) {
      total += r.count;
      byCode.set(r.code, (byCode.get(r.code) ?? 0) + r.count);
      byRoute.set(r.route, (byRoute.get(r.route) ?? 0) + r.count);
      const pairKey = `${r.code} ${r.route}`;
      const pair = byPair.get(pairKey) ?? { code: r.code, route: r.route, count: 0 };
      pair.count += r.count;
      byPair.set(pairKey, pair);
      const b = byBucket.get(r.bucket) ?? { count: 0, by_code: {} };
      b.count += r.count;
      b.by_code[r.code] = (b.by_code[r.code] ?? 0) + r.count;
      byBucket.set(r.bucket, b);
    }
    const bucketsInPeriod = Math.ceil(PERIOD_SECONDS[period] / bucket.seconds);
    const baseline = total / bucketsInPeriod;
    const timeline = [...byBucket.entries()]
      .sort(([a], [b]) => a - b)
      .map(([start, b]) => ({ timestamp: new Date(start * 1000).toISOString(), ...b }));
    const spikes = timeline
      .filter((b) => b.count >= SPIKE_MIN_COUNT && b.count >= SPIKE_FACTOR * baseline)
      .map((b) => ({
        timestamp: b.timestamp,
        count: b.count,
        baseline: round(baseline, 2),
        factor: round(b.count / baseline, 2),
      }));
    const desc = <T>(m: Map<string, number>, f: (k: string, n: number) => T) =>
      [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, n]) => f(k, n));
    return {
      period,
      bucket: bucket.name,
      from: since.toISOString(),
      to: new Date(now).toISOString(),
      total,
      by_code: desc(byCode, (code, count) => ({ code, count, description: description(code) })),
      by_route: desc(byRoute, (route, count) => ({ route, count })),
      by_code_and_route: [...byPair.values()].sort((a, b) => b.count - a.count),
      timeline,
      spikes,
    };
  }

  async listIncidents(q: IncidentQueryDto): Promise<IncidentPageDto> {
    const page = q.page ?? 1;
    const pageSize = q.page_size ?? 20;
    const { rows, total } = await this.repo.listIncidents({
      code: q.code,
      status: q.status,
      since: q.period ? periodStart(q.period) : undefined,
      limit: pageSize,
      offset: (page - 1) * pageSize,
    });
    return { items: rows.map(toSummary), total, page, page_size: pageSize };
  }

  async getIncident(id: string): Promise<IncidentDetailDto> {
    const row = await this.repo.findIncident(id);
    if (!row) throw new AppException(ErrorCode.E4009, { message: 'Incident not found' });
    const occurrences = await this.repo.occurrences(row.fingerprint, 20);
    return {
      ...toSummary(row),
      occurrences: occurrences.map((o) => ({
        incident_id: o.incident_id,
        timestamp: new Date(o.at).toISOString(),
        method: o.method,
        message: o.message,
        request_id: o.request_id,
        api_key_id: o.api_key_id,
      })),
    };
  }

  async setStatus(id: string, status: IncidentStatus): Promise<IncidentSummaryDto> {
    const existing = await this.repo.findIncident(id);
    if (!existing) throw new AppException(ErrorCode.E4009, { message: 'Incident not found' });
    const row = await this.repo.setIncidentStatus(existing.id, status);
    if (!row) throw new AppException(ErrorCode.E4009, { message: 'Incident not found' });
    this.logger.write('info', 'incident status changed', { incident_id: row.id, from: existing.status, to: status });
    return toSummary(row);
  }

  codes(): ErrorCodesDto {
    const codes = Object.values(ErrorCode).map((code) => ({
      code,
      description: ERROR_CATALOGUE[code].message,
      http_status: ERROR_CATALOGUE[code].status,
      retryable: ERROR_CATALOGUE[code].retryable,
      category: isServerError(code) ? ('server' as const) : ('client' as const),
    }));
    return { codes, total: codes.length };
  }
}

function toSummary(r: IncidentRow): IncidentSummaryDto {
  return {
    incident_id: r.id,
    error_code: r.error_code,
    timestamp: iso(r.last_seen)!,
    status: r.status,
    route: r.route,
    message: r.message,
    count: Number(r.count),
    first_seen: iso(r.first_seen)!,
    last_seen: iso(r.last_seen)!,
    last_incident_id: r.last_incident_id,
    acknowledged_at: iso(r.acknowledged_at),
    resolved_at: iso(r.resolved_at),
    reopened_count: r.reopened_count,
  };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
