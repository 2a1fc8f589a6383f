import { MigrationInterface, QueryRunner } from 'typeorm';

/** Users, their hashed API keys, onboarding profile and settings. */
export class CreateIdentity1795365152621 implements MigrationInterface {
  name = 'CreateIdentity1795365152621';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "users" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "email" varchar(254) NOT NULL,
        "username" varchar(100) NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "uq_users_email" UNIQUE ("email")
      )`);
    await q.query(`
      CREATE TABLE "api_keys" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "user_id" uuid NOT NULL REFERENCES "users"("id") ON DELETE CASCADE,
        "key_hash" char(64) NOT NULL,
        "key_prefix" varchar(16) NOT NULL,
        "name" varchar(100),
        "permissions" text[] NOT NULL,
        "rate_limit" integer,
        "max_concurrent_streams" integer,
        "expires_at" timestamptz NOT NULL,
        "revoked_at" timestamptz,
        "last_used_at" timestamptz,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "uq_api_keys_hash" UNIQUE ("key_hash")
      )`);
    await q.query(`CREATE INDEX "ix_api_keys_user" ON "api_keys" ("user_id")`);
    await q.query(`
      CREATE TABLE "user_profiles" (
        "user_id" uuid PRIMARY KEY REFERENCES "users"("id") ON DELETE CASCADE,
        "profile_data" jsonb NOT NULL DEFAULT '{}',
        "settings_mapping" integer[] NOT NULL DEFAULT '{}',
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE "user_settings" (
        "user_id" uuid NOT NULL REFERENCES "users"("id") ON DELETE CASCADE,
        "option_id" integer NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("user_id", "option_id")
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS "user_settings"`);
    await q.query(`DROP TABLE IF EXISTS "user_profiles"`);
    await q.query(`DROP TABLE IF EXISTS "api_keys"`);
    await q.query(`DROP TABLE IF EXISTS "users"`);
  }
}
