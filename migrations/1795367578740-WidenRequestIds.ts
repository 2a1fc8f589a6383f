import { MigrationInterface, QueryRunner } from 'typeorm';

// The request pipeline keeps a client's X-Request-Id of up to 128 characters; the column must hold it.
export class WidenRequestIds1795367578740 implements MigrationInterface {
  name = 'WidenRequestIds1795367578740';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "error_events" ALTER COLUMN "request_id" TYPE varchar(128)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE "error_events" ALTER COLUMN "request_id" TYPE varchar(100) USING left("request_id", 100)`,
    );
  }
}
