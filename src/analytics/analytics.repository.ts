import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { insertRows } from '../common/batching/multi-row-insert';
import { UsageAnnotation } from '../common/ports/usage-annotation';
import { CompletionEventType } from './analytics.entities';

/** One request, as UsageRecorder hands it over for usage_events. */
export interface UsageEvent {
  at: Date;
  apiKeyId?: string;
  userId?: string;
  method: string;
  route: string;
  status: number;
  latencyMs: number;
  usage?: UsageAnnotation;
  /** Which API: `hapa` (API_V1_PREFIX) or `openai` (/v1). */
  surface?: UsageSurface;
  /** The calling program, from its User-Agent (`OpenAI/JS 6.30.1`, ...). */
  client?: string;
}

export type UsageSurface = 'hapa' | 'openai';

/** A completion shown, picked or dismissed in the editor, for completion_events. */
export interface CompletionEvent {
  at: Date;
  type: CompletionEventType;
  completionId: string;
  language?: string;
  elapsedMs?: number;
  apiKeyId?: string;
  userId?: string;
}

export interface UsageSummaryRow {
  requests: number;
  errors: number;
  avg_latency_ms: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  avg_ttft_ms: number | null;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  ttft_p99_ms: number | null;
  model_requests: number;
  cache_hits: number;
  cache_misses: number;
  prompt_tokens: number;
  completion_tokens: number;
}

export interface UsageGroupRow {
  group: string | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  avg_latency_ms: number | null;
  cache_hits: number;
}

export interface CompletionDayRow {
  day: string;
  views: number;
  selects: number;
  dismisses: number;
}

export type UsageGroup = 'key' | 'user' | 'adapter' | 'day' | 'route' | 'client' | 'surface' | 'model';

const GROUP_EXPR: Record<UsageGroup, string> = {
  key: `"api_key_id"`,
  user: `"user_id"`,
  adapter: `"adapter"`,
  day: `to_char("at" AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  route: `"route"`,
  client: `"client"`,
  surface: `"surface"`,
  model: `"model"`,
};

const USAGE_COLUMNS = [
  'at',
  'api_key_id',
  'user_id',
  'method',
  'route',
  'status',
  'latency_ms',
  'adapter',
  'ttft_ms',
  'upstream_ms',
  'prompt_tokens',
  'completion_tokens',
  'cached',
  'stream',
  'completion_id',
  'surface',
  'model',
  'client',
] as const;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

@Injectable()
export class AnalyticsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Both kinds in one transaction (the usual flush). */
  async insertBatch(usage: UsageEvent[], completions: CompletionEvent[]): Promise<void> {
    await this.ds.transaction(async (m) => {
      await this.insertUsage(usage, m);
      await this.insertCompletions(completions, m);
    });
  }

  /** Atomic on its own (several statements for a large batch). */
  async insertUsage(usage: UsageEvent[], manager?: EntityManager): Promise<void> {
    if (usage.length === 0) return;
    if (!manager) return this.ds.transaction((m) => this.insertUsage(usage, m));
    await insertRows(
      manager,
      'usage_events',
      USAGE_COLUMNS,
      usage.map((e) => [
        e.at,
        e.apiKeyId ?? null,
        e.userId ?? null,
        e.method,
        e.route,
        e.status,
        e.latencyMs,
        e.usage?.adapter ?? null,
        e.usage?.ttftMs ?? null,
        e.usage?.upstreamMs ?? null,
        e.usage?.promptTokens ?? null,
        e.usage?.completionTokens ?? null,
        e.usage?.cached ?? null,
        e.usage?.stream ?? null,
        e.usage?.completionId ?? null,
        e.surface ?? null,
        e.usage?.requestedModel ?? null,
        e.client ?? null,
      ]),
    );
  }

  async insertCompletions(completions: CompletionEvent[], manager?: EntityManager): Promise<void> {
    if (completions.length === 0) return;
    if (!manager) return this.ds.transaction((m) => this.insertCompletions(completions, m));
    await insertRows(
      manager,
      'completion_events',
      ['at', 'type', 'completion_id', 'language', 'elapsed_ms', 'api_key_id', 'user_id'],
      completions.map((c) => [
        c.at,
        c.type,
        c.completionId,
        c.language ?? null,
        c.elapsedMs ?? null,
        c.apiKeyId ?? null,
        c.userId ?? null,
      ]),
    );
  }

  async countRequests(since: Date): Promise<number> {
    const [row] = await this.ds.query(`SELECT count(*)::int AS n FROM "usage_events" WHERE "at" >= $1`, [since]);
    return row.n;
  }

  async summary(since: Date): Promise<UsageSummaryRow> {
    const [r] = await this.ds.query(
      `SELECT count(*)::int AS requests,
              count(*) FILTER (WHERE "status" >= 400)::int AS errors,
              avg("latency_ms")::float8 AS avg_latency_ms,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY "latency_ms") AS p50_ms,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY "latency_ms") AS p95_ms,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY "latency_ms") AS p99_ms,
              avg("ttft_ms")::float8 AS avg_ttft_ms,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY "ttft_ms") AS ttft_p50_ms,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY "ttft_ms") AS ttft_p95_ms,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY "ttft_ms") AS ttft_p99_ms,
              count(*) FILTER (WHERE "adapter" IS NOT NULL)::int AS model_requests,
              count(*) FILTER (WHERE "cached" IS TRUE)::int AS cache_hits,
              count(*) FILTER (WHERE "cached" IS FALSE)::int AS cache_misses,
              coalesce(sum("prompt_tokens"), 0)::bigint AS prompt_tokens,
              coalesce(sum("completion_tokens"), 0)::bigint AS completion_tokens
         FROM "usage_events" WHERE "at" >= $1`,
      [since],
    );
    return {
      requests: r.requests,
      errors: r.errors,
      avg_latency_ms: num(r.avg_latency_ms),
      p50_ms: num(r.p50_ms),
      p95_ms: num(r.p95_ms),
      p99_ms: num(r.p99_ms),
      avg_ttft_ms: num(r.avg_ttft_ms),
      ttft_p50_ms: num(r.ttft_p50_ms),
      ttft_p95_ms: num(r.ttft_p95_ms),
      ttft_p99_ms: num(r.ttft_p99_ms),
      model_requests: r.model_requests,
      cache_hits: r.cache_hits,
      cache_misses: r.cache_misses,
      prompt_tokens: Number(r.prompt_tokens),
      completion_tokens: Number(r.completion_tokens),
    };
  }

  async groupBy(group: UsageGroup, since: Date, limit: number, onlyModel = false): Promise<UsageGroupRow[]> {
    const expr = GROUP_EXPR[group];
    const order = group === 'day' ? `"group"` : `requests DESC, "group"`;
    const rows = await this.ds.query(
      `SELECT ${expr} AS "group", count(*)::int AS requests,
              count(*) FILTER (WHERE "status" >= 400)::int AS errors,
              coalesce(sum("prompt_tokens"), 0)::bigint AS prompt_tokens,
              coalesce(sum("completion_tokens"), 0)::bigint AS completion_tokens,
              avg("latency_ms")::float8 AS avg_latency_ms,
              count(*) FILTER (WHERE "cached" IS TRUE)::int AS cache_hits
         FROM "usage_events" WHERE "at" >= $1 ${onlyModel ? `AND "adapter" IS NOT NULL` : ''}
        GROUP BY 1 ORDER BY ${order} LIMIT $2`,
      [since, limit],
    );
    return rows.map((r: Record<string, unknown>) => ({
      group: r.group as string | null,
      requests: Number(r.requests),
      errors: Number(r.errors),
      prompt_tokens: Number(r.prompt_tokens),
      completion_tokens: Number(r.completion_tokens),
      avg_latency_ms: num(r.avg_latency_ms),
      cache_hits: Number(r.cache_hits),
    }));
  }

  async completionsByDay(since: Date): Promise<CompletionDayRow[]> {
    const rows = await this.ds.query(
      `SELECT to_char("at" AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
              count(*) FILTER (WHERE "type" = 'view')::int AS views,
              count(*) FILTER (WHERE "type" = 'select')::int AS selects,
              count(*) FILTER (WHERE "type" = 'dismiss')::int AS dismisses
         FROM "completion_events" WHERE "at" >= $1 GROUP BY 1 ORDER BY 1`,
      [since],
    );
    return rows;
  }

  async deleteOlderThan(cutoff: Date): Promise<{ usage: number; completions: number }> {
    const del = async (sql: string): Promise<number> => {
      const res = await this.ds.query(sql, [cutoff]);
      return Array.isArray(res) && typeof res[1] === 'number' ? res[1] : 0;
    };
    return {
      usage: await del(`DELETE FROM "usage_events" WHERE "at" < $1`),
      completions: await del(`DELETE FROM "completion_events" WHERE "at" < $1`),
    };
  }
}
