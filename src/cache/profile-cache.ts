import { Injectable } from '@nestjs/common';
import { CacheStats } from './cache-stats';
import { CacheStore } from './cache-store';

/**
 * User profiles in the shared cache (`user_profiles`, TTL CACHE_TTL), for the users module's
 * UserPreferencesPort: `get` before the database, `set` after reading it, `invalidate` on every
 * profile update. Like every cache access it never throws; a failed read is a miss.
 */
@Injectable()
export class ProfileCache {
  constructor(
    private readonly store: CacheStore,
    private readonly stats: CacheStats,
  ) {}

  async get<T extends object>(userId: string): Promise<T | undefined> {
    const value = await this.store.get<T>('user_profiles', userId);
    if (value === undefined) this.stats.miss('user_profiles');
    else this.stats.hit('user_profiles');
    return value;
  }

  set(userId: string, profile: object): Promise<void> {
    return this.store.set('user_profiles', userId, profile);
  }

  invalidate(userId: string): Promise<void> {
    return this.store.del('user_profiles', userId);
  }
}
