import { MigrationInterface, QueryRunner } from 'typeorm';

export class ErrorMonitoringAndAnalytics1795363805662 implements MigrationInterface {
  name = 'ErrorMonitoringAndAnalytics1795363805662';

  public async up(q: QueryRunner): Promise<void> {
    // Exact error counts per (minute, code, route), flushed as increments.
    await q.query(`CREATE TABLE "error_counts" (
      "minute" timestamptz NOT NULL,
      "error_code" varchar(5) NOT NULL,
      "route" varchar(200) NOT NULL,
      "count" bigint NOT NULL,
      CONSTRAINT "PK_error_counts" PRIMARY KEY ("minute", "error_code", "route")
    )`);
    await q.query(`CREATE INDEX "IDX_error_counts_code_minute" ON "error_counts" ("error_code", "minute")`);
    // Sampled detail rows (see docs/error-monitoring.md).
    await q.query(`CREATE TABLE "error_events" (
      "id" bigserial PRIMARY KEY,
      "at" timestamptz NOT NULL,
      "error_code" varchar(5) NOT NULL,
      "status" smallint NOT NULL,
      "route" varchar(200) NOT NULL,
      "method" varchar(10) NOT NULL,
      "message" varchar(500) NOT NULL,
      "request_id" varchar(100) NOT NULL,
      "incident_id" varchar(21) NOT NULL,
      "fingerprint" char(32) NOT NULL,
      "api_key_id" varchar(64),
      "user_id" varchar(64)
    )`);
    await q.query(`CREATE INDEX "IDX_error_events_at" ON "error_events" ("at")`);
    await q.query(`CREATE INDEX "IDX_error_events_fingerprint_at" ON "error_events" ("fingerprint", "at")`);
    await q.query(`CREATE INDEX "IDX_error_events_incident_id" ON "error_events" ("incident_id")`);
    // Server errors grouped by fingerprint; id is the incident id of the first occurrence.
    await q.query(`CREATE TABLE "error_incidents" (
      "id" varchar(21) PRIMARY KEY,
      "fingerprint" char(32) NOT NULL,
      "error_code" varchar(5) NOT NULL,
      "route" varchar(200) NOT NULL,
      "message" varchar(500) NOT NULL,
      "count" bigint NOT NULL,
      "first_seen" timestamptz NOT NULL,
      "last_seen" timestamptz NOT NULL,
      "last_incident_id" varchar(21) NOT NULL,
      "status" varchar(12) NOT NULL DEFAULT 'open',
      "acknowledged_at" timestamptz,
      "resolved_at" timestamptz,
      "reopened_count" integer NOT NULL DEFAULT 0,
      CONSTRAINT "UQ_error_incidents_fingerprint" UNIQUE ("fingerprint"),
      CONSTRAINT "CHK_error_incidents_status" CHECK ("status" IN ('open', 'acknowledged', 'resolved'))
    )`);
    await q.query(`CREATE INDEX "IDX_error_incidents_last_seen" ON "error_incidents" ("last_seen")`);
    await q.query(`CREATE INDEX "IDX_error_incidents_status_last_seen" ON "error_incidents" ("status", "last_seen")`);
    // One row per request (health and metrics excluded).
    await q.query(`CREATE TABLE "usage_events" (
      "id" bigserial PRIMARY KEY,
      "at" timestamptz NOT NULL,
      "api_key_id" varchar(64),
      "user_id" varchar(64),
      "method" varchar(10) NOT NULL,
      "route" varchar(200) NOT NULL,
      "status" smallint NOT NULL,
      "latency_ms" real NOT NULL,
      "adapter" varchar(64),
      "ttft_ms" real,
      "upstream_ms" real,
      "prompt_tokens" integer,
      "completion_tokens" integer,
      "cached" boolean,
      "stream" boolean,
      "completion_id" varchar(64)
    )`);
    await q.query(`CREATE INDEX "IDX_usage_events_at" ON "usage_events" ("at")`);
    await q.query(`CREATE INDEX "IDX_usage_events_key_at" ON "usage_events" ("api_key_id", "at")`);
    await q.query(`CREATE INDEX "IDX_usage_events_user_at" ON "usage_events" ("user_id", "at")`);
    await q.query(`CREATE INDEX "IDX_usage_events_adapter_at" ON "usage_events" ("adapter", "at")`);
    await q.query(`CREATE TABLE "completion_events" (
      "id" bigserial PRIMARY KEY,
      "at" timestamptz NOT NULL,
      "type" varchar(8) NOT NULL,
      "completion_id" varchar(64) NOT NULL,
      "language" varchar(32),
      "elapsed_ms" integer,
      "api_key_id" varchar(64),
      "user_id" varchar(64),
      CONSTRAINT "CHK_completion_events_type" CHECK ("type" IN ('view', 'select', 'dismiss'))
    )`);
    await q.query(`CREATE INDEX "IDX_completion_events_at" ON "completion_events" ("at")`);
    await q.query(`CREATE INDEX "IDX_completion_events_completion_id" ON "completion_events" ("completion_id")`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "completion_events"`);
    await q.query(`DROP TABLE "usage_events"`);
    await q.query(`DROP TABLE "error_incidents"`);
    await q.query(`DROP TABLE "error_events"`);
    await q.query(`DROP TABLE "error_counts"`);
  }
}
