import { MigrationInterface, QueryRunner } from 'typeorm';

// Usage events say which API was called (hapa | openai), the model name an OpenAI client used and
// the calling program (from its User-Agent), so analytics can be grouped by client.
export class UsageSurfaceModelClient1796007350838 implements MigrationInterface {
  name = 'UsageSurfaceModelClient1796007350838';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "usage_events" ADD "surface" varchar(16)`);
    await q.query(`ALTER TABLE "usage_events" ADD "model" varchar(64)`);
    await q.query(`ALTER TABLE "usage_events" ADD "client" varchar(64)`);
    await q.query(`CREATE INDEX "IDX_usage_events_client_at" ON "usage_events" ("client", "at")`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "IDX_usage_events_client_at"`);
    await q.query(`ALTER TABLE "usage_events" DROP COLUMN "client"`);
    await q.query(`ALTER TABLE "usage_events" DROP COLUMN "model"`);
    await q.query(`ALTER TABLE "usage_events" DROP COLUMN "surface"`);
  }
}
