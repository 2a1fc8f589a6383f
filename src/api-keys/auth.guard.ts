import { applyDecorators, CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { Reflector } from '@nestjs/core';
import { normalizeIp } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { AUTH_OPTIONS, AuthOptions } from '../common/auth/authenticated.decorator';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppRequest } from '../common/http/app-request';
import { WHEN_CLOSED_EXTENSION } from '../common/http/swagger';
import { ApiKeyAuthService, PresentedCredentials } from './api-key-auth.service';

export const AUTH_WHEN_CLOSED = 'hapa:auth-when-closed';
/**
 * Public while REGISTRATION_MODE=open (credentials are ignored); needs a valid credential, like
 * @Authenticated(), when registration is closed. Used by /users/login.
 */
export const AuthenticatedWhenRegistrationClosed = () =>
  applyDecorators(SetMetadata(AUTH_WHEN_CLOSED, true), ApiExtension(WHEN_CLOSED_EXTENSION, true));

// What some clients send for an unset key (`Bearer ${undefined}`): no credential at all.
const ABSENT = new Set(['', 'undefined', 'null']);

function headerValue(raw: string | string[] | undefined): string | undefined {
  const v = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  return v === undefined || ABSENT.has(v) ? undefined : v;
}

/**
 * The key from `X-API-Key` or `api-key` (Azure-style, sent by Continue), else a Bearer token; when
 * both carry a key the API-key header wins.
 */
export function presentedCredentials(req: AppRequest): PresentedCredentials {
  const apiKey = headerValue(req.headers['x-api-key']) ?? headerValue(req.headers['api-key']);
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return { apiKey, bearer: m && !ABSENT.has(m[1]) ? m[1] : undefined };
}

/** Enforces @Authenticated({permission}) and sets req.principal; undecorated routes stay public. */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly openRegistration: boolean;

  constructor(
    private readonly reflector: Reflector,
    private readonly auth: ApiKeyAuthService,
    config: AppConfig,
  ) {
    this.openRegistration = config.security.registrationMode === 'open';
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    let options = this.reflector.getAllAndOverride<AuthOptions | undefined>(AUTH_OPTIONS, targets);
    if (!options && this.reflector.getAllAndOverride<boolean>(AUTH_WHEN_CLOSED, targets) && !this.openRegistration) {
      options = {};
    }
    if (!options) return true;
    const req = ctx.switchToHttp().getRequest<AppRequest>();
    const creds = { ...presentedCredentials(req), clientIp: normalizeIp(req.ip ?? 'unknown', 56) };
    if (!this.auth.hasCredentials(creds))
      throw new AppException(ErrorCode.E4003, { message: 'Missing API key or token' });
    const principal = await this.auth.authenticate(creds);
    req.principal = principal;
    const required = options.permission === undefined ? [] : [options.permission].flat();
    const allowed =
      required.length === 0 ||
      principal.permissions.includes('admin') ||
      required.some((p) => principal.permissions.includes(p));
    if (!allowed) throw new AppException(ErrorCode.E4005, { message: `Requires permission: ${required.join(' or ')}` });
    return true;
  }
}
