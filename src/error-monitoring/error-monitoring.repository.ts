import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { insertRows } from '../common/batching/multi-row-insert';
import { ErrorBatch, ErrorCountRow, ErrorDetailRow, IncidentDelta } from './error-aggregator';
import { IncidentStatus } from './error-monitoring.entities';

export interface IncidentRow {
  id: string;
  fingerprint: string;
  error_code: string;
  route: string;
  message: string;
  count: string;
  first_seen: Date;
  last_seen: Date;
  last_incident_id: string;
  status: IncidentStatus;
  acknowledged_at: Date | null;
  resolved_at: Date | null;
  reopened_count: number;
}

export interface OccurrenceRow {
  incident_id: string;
  at: Date;
  method: string;
  message: string;
  request_id: string;
  api_key_id: string | null;
}

export interface IncidentFilter {
  code?: string;
  status?: IncidentStatus;
  since?: Date;
  limit: number;
  offset: number;
}

const INCIDENT_COLUMNS = `id, fingerprint, error_code, route, message, count, first_seen, last_seen, last_incident_id,
  status, acknowledged_at, resolved_at, reopened_count`;

@Injectable()
export class ErrorMonitoringRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Writes one flushed batch in a transaction; safe with several instances writing at once. */
  async writeBatch(batch: ErrorBatch): Promise<void> {
    await this.ds.transaction(async (m) => {
      await this.writeCounts(batch.counts, m);
      await this.writeIncidents(batch.incidents, m);
      await this.writeDetails(batch.details, m);
    });
  }

  /** Count increments; atomic on their own. */
  async writeCounts(rows: ErrorCountRow[], manager?: EntityManager): Promise<void> {
    if (rows.length === 0) return;
    if (!manager) return this.ds.transaction((m) => this.writeCounts(rows, m));
    await insertRows(
      manager,
      'error_counts',
      ['minute', 'error_code', 'route', 'count'],
      rows.map((r) => [r.minute, r.code, r.route, r.count]),
      'ON CONFLICT ("minute", "error_code", "route") DO UPDATE SET "count" = "error_counts"."count" + EXCLUDED."count"',
    );
  }

  async writeIncidents(rows: IncidentDelta[], manager?: EntityManager): Promise<void> {
    if (rows.length === 0) return;
    if (!manager) return this.ds.transaction((m) => this.writeIncidents(rows, m));
    // A resolved incident that recurs after its resolution reopens; acknowledged stays acknowledged.
    await insertRows(
      manager,
      'error_incidents',
      ['id', 'fingerprint', 'error_code', 'route', 'message', 'count', 'first_seen', 'last_seen', 'last_incident_id'],
      rows.map((d) => [
        d.firstIncidentId,
        d.fingerprint,
        d.code,
        d.route,
        d.message,
        d.count,
        d.firstSeen,
        d.lastSeen,
        d.lastIncidentId,
      ]),
      `ON CONFLICT ("fingerprint") DO UPDATE SET
        "count" = "error_incidents"."count" + EXCLUDED."count",
        "first_seen" = LEAST("error_incidents"."first_seen", EXCLUDED."first_seen"),
        "last_seen" = GREATEST("error_incidents"."last_seen", EXCLUDED."last_seen"),
        "last_incident_id" = CASE WHEN EXCLUDED."last_seen" >= "error_incidents"."last_seen"
          THEN EXCLUDED."last_incident_id" ELSE "error_incidents"."last_incident_id" END,
        "status" = CASE WHEN "error_incidents"."status" = 'resolved' AND EXCLUDED."last_seen" > "error_incidents"."resolved_at"
          THEN 'open' ELSE "error_incidents"."status" END,
        "reopened_count" = "error_incidents"."reopened_count" + CASE WHEN "error_incidents"."status" = 'resolved'
          AND EXCLUDED."last_seen" > "error_incidents"."resolved_at" THEN 1 ELSE 0 END,
        "resolved_at" = CASE WHEN "error_incidents"."status" = 'resolved' AND EXCLUDED."last_seen" > "error_incidents"."resolved_at"
          THEN NULL ELSE "error_incidents"."resolved_at" END`,
    );
  }

  async writeDetails(rows: ErrorDetailRow[], manager?: EntityManager): Promise<void> {
    if (rows.length === 0) return;
    if (!manager) return this.ds.transaction((m) => this.writeDetails(rows, m));
    await insertRows(
      manager,
      'error_events',
      [
        'at',
        'error_code',
        'status',
        'route',
        'method',
        'message',
        'request_id',
        'incident_id',
        'fingerprint',
        'api_key_id',
        'user_id',
      ],
      rows.map((d) => [
        d.at,
        d.code,
        d.status,
        d.route,
        d.method,
        d.message,
        d.requestId,
        d.incidentId,
        d.fingerprint,
        d.apiKeyId ?? null,
        d.userId ?? null,
      ]),
    );
  }

  async totals(since24h: Date): Promise<{ total: number; last24h: number }> {
    const [row] = await this.ds.query(
      `SELECT coalesce(sum("count"), 0)::bigint AS total,
              coalesce(sum("count") FILTER (WHERE "minute" >= $1), 0)::bigint AS last24h
         FROM "error_counts"`,
      [since24h],
    );
    return { total: Number(row.total), last24h: Number(row.last24h) };
  }

  async countsByCode(since?: Date, limit = 22): Promise<{ code: string; count: number }[]> {
    const rows = await this.ds.query(
      `SELECT "error_code" AS code, sum("count")::bigint AS count FROM "error_counts"
        WHERE ($1::timestamptz IS NULL OR "minute" >= $1)
        GROUP BY "error_code" ORDER BY count DESC, code LIMIT $2`,
      [since ?? null, limit],
    );
    return rows.map((r: { code: string; count: string }) => ({ code: r.code, count: Number(r.count) }));
  }

  async countsByRoute(since: Date, limit = 20): Promise<{ route: string; count: number }[]> {
    const rows = await this.ds.query(
      `SELECT "route", sum("count")::bigint AS count FROM "error_counts" WHERE "minute" >= $1
        GROUP BY "route" ORDER BY count DESC, "route" LIMIT $2`,
      [since, limit],
    );
    return rows.map((r: { route: string; count: string }) => ({ route: r.route, count: Number(r.count) }));
  }

  /** Counts per time bucket, code and route since `since`; bucket start in epoch seconds. */
  async timeline(
    since: Date,
    bucketSeconds: number,
  ): Promise<{ bucket: number; code: string; route: string; count: number }[]> {
    const rows = await this.ds.query(
      `SELECT (floor(extract(epoch FROM "minute") / $2) * $2)::bigint AS bucket, "error_code" AS code, "route",
              sum("count")::bigint AS count
         FROM "error_counts" WHERE "minute" >= $1
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      [since, bucketSeconds],
    );
    return rows.map((r: { bucket: string; code: string; route: string; count: string }) => ({
      bucket: Number(r.bucket),
      code: r.code,
      route: r.route,
      count: Number(r.count),
    }));
  }

  async recentIncidents(limit: number): Promise<IncidentRow[]> {
    return this.ds.query(`SELECT ${INCIDENT_COLUMNS} FROM "error_incidents" ORDER BY "last_seen" DESC LIMIT $1`, [
      limit,
    ]);
  }

  async countOpenIncidents(): Promise<number> {
    const [row] = await this.ds.query(`SELECT count(*)::int AS n FROM "error_incidents" WHERE "status" <> 'resolved'`);
    return row.n;
  }

  async listIncidents(f: IncidentFilter): Promise<{ rows: IncidentRow[]; total: number }> {
    const where = `WHERE ($1::varchar IS NULL OR "error_code" = $1)
      AND ($2::varchar IS NULL OR "status" = $2)
      AND ($3::timestamptz IS NULL OR "last_seen" >= $3)`;
    const params = [f.code ?? null, f.status ?? null, f.since ?? null];
    const [{ total }] = await this.ds.query(`SELECT count(*)::int AS total FROM "error_incidents" ${where}`, params);
    const rows = await this.ds.query(
      `SELECT ${INCIDENT_COLUMNS} FROM "error_incidents" ${where} ORDER BY "last_seen" DESC, "id" LIMIT $4 OFFSET $5`,
      [...params, f.limit, f.offset],
    );
    return { rows, total };
  }

  /** By the incident's own id, or by the incident id of any recorded occurrence. */
  async findIncident(id: string): Promise<IncidentRow | undefined> {
    const rows: IncidentRow[] = await this.ds.query(
      `SELECT ${INCIDENT_COLUMNS} FROM "error_incidents"
        WHERE "id" = $1 OR "last_incident_id" = $1
           OR "fingerprint" = (SELECT "fingerprint" FROM "error_events" WHERE "incident_id" = $1 LIMIT 1)
        LIMIT 1`,
      [id],
    );
    return rows[0];
  }

  async occurrences(fingerprint: string, limit: number): Promise<OccurrenceRow[]> {
    return this.ds.query(
      `SELECT "incident_id", "at", "method", "message", "request_id", "api_key_id" FROM "error_events"
        WHERE "fingerprint" = $1 ORDER BY "at" DESC LIMIT $2`,
      [fingerprint, limit],
    );
  }

  async setIncidentStatus(id: string, status: IncidentStatus): Promise<IncidentRow | undefined> {
    const rows: IncidentRow[] = await this.ds.query(
      `UPDATE "error_incidents" SET "status" = $2::varchar,
         "acknowledged_at" = CASE WHEN $2::varchar = 'acknowledged' THEN now() ELSE "acknowledged_at" END,
         "resolved_at" = CASE WHEN $2::varchar = 'resolved' THEN now() ELSE NULL END
       WHERE "id" = $1 RETURNING ${INCIDENT_COLUMNS}`,
      [id, status],
    );
    // pg returns [rows, count] for UPDATE … RETURNING through TypeORM.
    const list = Array.isArray(rows[0]) ? (rows[0] as unknown as IncidentRow[]) : rows;
    return list[0];
  }

  /** Deletes rows older than the cutoff; returns how many went from each table. */
  async deleteOlderThan(cutoff: Date): Promise<{ events: number; counts: number; incidents: number }> {
    const del = async (sql: string): Promise<number> => {
      const res = await this.ds.query(sql, [cutoff]);
      return Array.isArray(res) && typeof res[1] === 'number' ? res[1] : 0;
    };
    return {
      events: await del(`DELETE FROM "error_events" WHERE "at" < $1`),
      counts: await del(`DELETE FROM "error_counts" WHERE "minute" < $1`),
      incidents: await del(`DELETE FROM "error_incidents" WHERE "last_seen" < $1`),
    };
  }
}
