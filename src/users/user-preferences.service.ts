import { Injectable } from '@nestjs/common';
import { LruCache } from '../api-keys/lru-cache';
import { UserPreferences, UserPreferencesPort } from '../common/ports/user-preferences.port';
import { toPreferences } from './profile-preferences';
import { UsersRepository } from './users.repository';

const TTL_MS = 60_000;

/**
 * UserPreferencesPort from the stored profile. Cached per user; the local entry is dropped on a
 * profile or settings change (another instance sees the change within TTL_MS).
 */
@Injectable()
export class UserPreferencesService extends UserPreferencesPort {
  private readonly cache = new LruCache<string, { prefs: UserPreferences | undefined }>(10_000, TTL_MS);

  constructor(private readonly users: UsersRepository) {
    super();
  }

  async forUser(userId: string): Promise<UserPreferences | undefined> {
    const hit = this.cache.get(userId);
    if (hit) return hit.prefs;
    const [profile, settings] = await Promise.all([this.users.findProfile(userId), this.users.listSettingIds(userId)]);
    const prefs = toPreferences(profile?.profileData, settings);
    this.cache.set(userId, { prefs });
    return prefs;
  }

  invalidate(userId: string): void {
    this.cache.delete(userId);
  }

  clear(): void {
    this.cache.clear();
  }
}
