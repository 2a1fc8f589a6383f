import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { ApiKey } from './api-key.entity';

export interface NewKeyFields {
  permissions: string[];
  expiresAt: Date;
  name?: string | null;
  rateLimit?: number | null;
  maxConcurrentStreams?: number | null;
}

/** Whether the caller may rotate or revoke a key with these permissions. */
export type ManageCheck = (permissions: readonly string[]) => boolean;

/** What the auth path needs about a key, hash included. */
export type AuthKeyRecord = Pick<
  ApiKey,
  'id' | 'userId' | 'keyHash' | 'permissions' | 'rateLimit' | 'maxConcurrentStreams' | 'expiresAt' | 'revokedAt'
>;

/** A `users` row. Keys are issued for an email, so this layer creates users; src/users builds on it. */
export interface UserRow {
  id: string;
  email: string;
  username: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Finds or creates a user by email; ON CONFLICT keeps the stored username and makes concurrent sign-ups safe. */
export async function upsertUser(em: EntityManager, email: string, username: string): Promise<UserRow> {
  const rows: UserRow[] = await em.query(
    `INSERT INTO "users" ("email", "username") VALUES ($1, $2)
     ON CONFLICT ("email") DO UPDATE SET "email" = EXCLUDED."email"
     RETURNING "id", "email", "username", "created_at" AS "createdAt", "updated_at" AS "updatedAt"`,
    [email, username],
  );
  return rows[0];
}

@Injectable()
export class ApiKeyRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** The only query that reads key_hash. */
  async findByHashForAuth(hash: string): Promise<AuthKeyRecord | undefined> {
    const row = await this.ds
      .getRepository(ApiKey)
      .createQueryBuilder('k')
      .addSelect('k.keyHash')
      .where('k.keyHash = :hash', { hash })
      .getOne();
    return row ?? undefined;
  }

  /** The same lookup for many hashes in one query (the failed-auth limiter batches unknown keys). */
  findManyByHashForAuth(hashes: string[]): Promise<AuthKeyRecord[]> {
    return this.ds
      .getRepository(ApiKey)
      .createQueryBuilder('k')
      .addSelect('k.keyHash')
      .where('k.keyHash IN (:...hashes)', { hashes })
      .getMany();
  }

  /** Finds or creates the user by (normalised) email and stores a new key for it, in one transaction. */
  async issueForEmail(
    email: string,
    username: string,
    hash: string,
    displayPrefix: string,
    fields: NewKeyFields,
  ): Promise<{ user: UserRow; key: ApiKey }> {
    return this.ds.transaction(async (em) => {
      const user = await upsertUser(em, email, username);
      const key = await insertKey(em, user.id, hash, displayPrefix, fields);
      return { user, key };
    });
  }

  listByUser(userId: string): Promise<ApiKey[]> {
    return this.ds.getRepository(ApiKey).find({ where: { userId }, order: { createdAt: 'DESC' } });
  }

  /**
   * Revokes the caller's own active key if `mayManage(its permissions)`; returns its hash (for cache
   * invalidation), 'forbidden', or undefined when none matched.
   */
  async revoke(
    userId: string,
    id: string,
    mayManage: ManageCheck,
  ): Promise<{ oldHash: string } | 'forbidden' | undefined> {
    return this.ds.transaction(async (em) => {
      const old = await lockActive(em, userId, id);
      if (!old) return undefined;
      if (!mayManage(old.permissions)) return 'forbidden';
      const oldHash = await revokeIn(em, userId, id);
      return oldHash === undefined ? undefined : { oldHash };
    });
  }

  /** Revokes the old key and stores its replacement with the same permissions and limits, atomically. */
  async rotate(
    userId: string,
    id: string,
    mayManage: ManageCheck,
    hash: string,
    displayPrefix: string,
    expiresAt: Date,
  ): Promise<{ oldHash: string; key: ApiKey } | 'forbidden' | undefined> {
    return this.ds.transaction(async (em) => {
      const old = await lockActive(em, userId, id);
      if (!old) return undefined;
      if (!mayManage(old.permissions)) return 'forbidden';
      const oldHash = await revokeIn(em, userId, id);
      if (!oldHash) return undefined;
      const key = await insertKey(em, userId, hash, displayPrefix, {
        permissions: old.permissions,
        expiresAt,
        name: old.name,
        rateLimit: old.rateLimit,
        maxConcurrentStreams: old.maxConcurrentStreams,
      });
      return { oldHash, key };
    });
  }

  async touchLastUsed(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.ds.query(`UPDATE "api_keys" SET "last_used_at" = now() WHERE "id" = ANY($1::uuid[])`, [ids]);
  }
}

/** The caller's own active key, locked until the transaction ends (so its check and its revocation agree). */
function lockActive(em: EntityManager, userId: string, id: string): Promise<ApiKey | null> {
  return em
    .getRepository(ApiKey)
    .findOne({ where: { id, userId, revokedAt: IsNull() }, lock: { mode: 'pessimistic_write' } });
}

async function insertKey(
  em: EntityManager,
  userId: string,
  hash: string,
  displayPrefix: string,
  f: NewKeyFields,
): Promise<ApiKey> {
  const repo = em.getRepository(ApiKey);
  const saved = await repo.save(
    repo.create({
      id: randomUUID(),
      userId,
      keyHash: hash,
      keyPrefix: displayPrefix,
      name: f.name ?? null,
      permissions: f.permissions,
      rateLimit: f.rateLimit ?? null,
      maxConcurrentStreams: f.maxConcurrentStreams ?? null,
      expiresAt: f.expiresAt,
      revokedAt: null,
      lastUsedAt: null,
    }),
  );
  return saved;
}

async function revokeIn(em: EntityManager, userId: string, id: string): Promise<string | undefined> {
  const rows: { key_hash: string }[][] | { key_hash: string }[] = await em.query(
    `UPDATE "api_keys" SET "revoked_at" = now() WHERE "id" = $1 AND "user_id" = $2 AND "revoked_at" IS NULL RETURNING "key_hash"`,
    [id, userId],
  );
  // TypeORM's postgres driver returns [rows, count] for UPDATE … RETURNING.
  const list = (Array.isArray(rows[0]) ? rows[0] : rows) as { key_hash: string }[];
  return list[0]?.key_hash;
}
