import { Permission } from '../common/auth/authenticated.decorator';

/**
 * What a login token (JWT) may do: the routes the VS Code extension calls with it (profile, settings,
 * generation, completion). Never analytics:read or admin: those need an API key that carries them.
 */
export const JWT_PERMISSIONS: readonly Permission[] = ['profile', 'code_generation', 'code_completion'];

/** Permissions of keys from self-service /users/generate-api-key. */
export const SELF_SERVICE_PERMISSIONS: readonly Permission[] = ['code_generation', 'code_completion', 'profile'];

/** Stands in for a user id on the bootstrap admin principal (no row in users). */
export const BOOTSTRAP_ADMIN_USER_ID = '00000000-0000-0000-0000-000000000000';

/** Whether `held` grants `wanted`, as the auth guard decides it: `admin` grants everything. */
export const grants = (held: readonly string[], wanted: string): boolean =>
  held.includes('admin') || held.includes(wanted);

/** Whether a caller holding `held` may rotate or revoke a key with `target`: only with all of its permissions. */
export const covers = (held: readonly string[], target: readonly string[]): boolean =>
  target.every((p) => grants(held, p));
