import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiSecurity } from '@nestjs/swagger';
import { AppRequest, AuthPrincipal } from '../http/app-request';
import { API_KEY_SCHEME, BEARER_SCHEME, PERMISSIONS_EXTENSION } from '../http/swagger';

/** `ops:read`: the operator views that reveal deployment details (effective settings, detailed health). */
export const PERMISSIONS = [
  'code_generation',
  'code_completion',
  'profile',
  'analytics:read',
  'ops:read',
  'admin',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface AuthOptions {
  /** Any one of these grants access; `admin` always does. Omitted: any valid credential. */
  permission?: Permission | Permission[];
}

export const AUTH_OPTIONS = 'hapa:auth';

/**
 * Marks a route as needing credentials (X-API-Key, or Bearer JWT/API key) and documents it.
 * The global auth guard enforces it; routes without it are public.
 */
export function Authenticated(options: AuthOptions = {}) {
  const permissions = options.permission === undefined ? [] : [options.permission].flat();
  return applyDecorators(
    SetMetadata(AUTH_OPTIONS, options),
    ApiSecurity(API_KEY_SCHEME),
    ApiBearerAuth(BEARER_SCHEME),
    // Read by the OpenAPI builder, which writes the permission into the operation's description.
    ApiExtension(PERMISSIONS_EXTENSION, permissions),
  );
}

/** The authenticated caller (set by the auth guard). */
export const Principal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthPrincipal | undefined =>
    ctx.switchToHttp().getRequest<AppRequest>().principal,
);
