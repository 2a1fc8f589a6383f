import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { ProfileCache } from '../cache/profile-cache';
import { UserPreferences, UserPreferencesPort } from '../common/ports/user-preferences.port';
import { toPreferences } from './profile-preferences';
import { UsersRepository } from './users.repository';

/** What the shared cache holds per user (`null`: no stored preferences, also worth caching). */
interface CachedPreferences {
  prefs: UserPreferences | null;
}

// A read that started before an update can store the old value after the update's invalidation;
// a second invalidation this much later removes it.
const SECOND_INVALIDATION_MS = 1000;

/**
 * UserPreferencesPort from the stored profile, through the shared `user_profiles` cache (Redis when
 * configured, so every instance sees an update at once and `DELETE /cache/clear` reaches it). The
 * hot path is one cache read; concurrent misses for one user share one database read.
 */
@Injectable()
export class UserPreferencesService extends UserPreferencesPort implements OnModuleDestroy {
  private readonly loading = new Map<string, Promise<UserPreferences | undefined>>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly users: UsersRepository,
    private readonly cache: ProfileCache,
  ) {
    super();
  }

  onModuleDestroy(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  async forUser(userId: string): Promise<UserPreferences | undefined> {
    const hit = await this.cache.get<CachedPreferences>(userId);
    if (hit && 'prefs' in hit) return hit.prefs ?? undefined;
    const pending = this.loading.get(userId);
    if (pending) return pending;
    const load: Promise<UserPreferences | undefined> = this.load(userId).finally(() => {
      if (this.loading.get(userId) === load) this.loading.delete(userId);
    });
    this.loading.set(userId, load);
    return load;
  }

  /** After a profile or settings change: every instance reads the database again. */
  async invalidate(userId: string): Promise<void> {
    this.loading.delete(userId);
    await this.cache.invalidate(userId);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.cache.invalidate(userId);
    }, SECOND_INVALIDATION_MS);
    timer.unref();
    this.timers.add(timer);
  }

  private async load(userId: string): Promise<UserPreferences | undefined> {
    const [profile, settings] = await Promise.all([this.users.findProfile(userId), this.users.listSettingIds(userId)]);
    const prefs = toPreferences(profile?.profileData, settings);
    await this.cache.set(userId, { prefs: prefs ?? null } satisfies CachedPreferences);
    return prefs;
  }
}
