import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { upsertUser } from '../api-keys/api-key.repository';
import { User } from './user.entity';
import { UserProfile, UserSetting } from './user-profile.entity';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class UsersRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  findById(id: string): Promise<User | null> {
    if (!UUID.test(id)) return Promise.resolve(null);
    return this.ds.getRepository(User).findOne({ where: { id } });
  }

  findByEmail(email: string): Promise<User | null> {
    return this.ds.getRepository(User).findOne({ where: { email } });
  }

  upsertByEmail(email: string, username: string): Promise<User> {
    return upsertUser(this.ds.manager, email, username);
  }

  findProfile(userId: string): Promise<UserProfile | null> {
    if (!UUID.test(userId)) return Promise.resolve(null);
    return this.ds.getRepository(UserProfile).findOne({ where: { userId } });
  }

  /** Replaces the profile in one statement; undefined when the user does not exist. */
  async saveProfile(userId: string, profileData: object, settingsMapping: number[]): Promise<UserProfile | undefined> {
    if (!UUID.test(userId)) return undefined;
    const rows: UserProfile[] = await this.ds.query(
      `INSERT INTO "user_profiles" ("user_id", "profile_data", "settings_mapping", "updated_at")
       SELECT u."id", $2::jsonb, $3::integer[], now() FROM "users" u WHERE u."id" = $1
       ON CONFLICT ("user_id") DO UPDATE
         SET "profile_data" = EXCLUDED."profile_data", "settings_mapping" = EXCLUDED."settings_mapping", "updated_at" = now()
       RETURNING "user_id" AS "userId", "profile_data" AS "profileData", "settings_mapping" AS "settingsMapping", "updated_at" AS "updatedAt"`,
      [userId, JSON.stringify(profileData), settingsMapping],
    );
    return rows[0];
  }

  async listSettingIds(userId: string): Promise<number[]> {
    if (!UUID.test(userId)) return [];
    const rows = await this.ds.getRepository(UserSetting).find({ where: { userId }, order: { optionId: 'ASC' } });
    return rows.map((r) => r.optionId);
  }

  /** Replaces the user's chosen options atomically; false when the user does not exist. */
  async replaceSettings(userId: string, optionIds: number[]): Promise<boolean> {
    if (!UUID.test(userId)) return false;
    return this.ds.transaction(async (em) => {
      // Locks the user row so concurrent replacements serialise.
      const exists: unknown[] = await em.query(`SELECT 1 FROM "users" WHERE "id" = $1 FOR UPDATE`, [userId]);
      if (exists.length === 0) return false;
      await em.query(`DELETE FROM "user_settings" WHERE "user_id" = $1`, [userId]);
      if (optionIds.length > 0) {
        await em.query(`INSERT INTO "user_settings" ("user_id", "option_id") SELECT $1, unnest($2::integer[])`, [
          userId,
          optionIds,
        ]);
      }
      return true;
    });
  }
}
