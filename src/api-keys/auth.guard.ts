import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AUTH_OPTIONS, AuthOptions } from '../common/auth/authenticated.decorator';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppRequest } from '../common/http/app-request';
import { ApiKeyAuthService, PresentedCredentials } from './api-key-auth.service';

export const OPTIONAL_AUTH = 'hapa:optional-auth';
/** Public route that still identifies the caller when credentials are sent (invalid ones are refused). */
export const OptionalAuth = () => SetMetadata(OPTIONAL_AUTH, true);

export function presentedCredentials(req: AppRequest): PresentedCredentials {
  const header = req.headers['x-api-key'];
  const apiKey = (Array.isArray(header) ? header[0] : header)?.trim() || undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return { apiKey, bearer: m?.[1] };
}

/** Enforces @Authenticated({permission}) and sets req.principal; undecorated routes stay public. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: ApiKeyAuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    const options = this.reflector.getAllAndOverride<AuthOptions | undefined>(AUTH_OPTIONS, targets);
    const optional = this.reflector.getAllAndOverride<boolean | undefined>(OPTIONAL_AUTH, targets);
    if (!options && !optional) return true;
    const req = ctx.switchToHttp().getRequest<AppRequest>();
    const creds = presentedCredentials(req);
    if (!this.auth.hasCredentials(creds)) {
      if (options) throw new AppException(ErrorCode.E4003, { message: 'Missing API key or token' });
      return true;
    }
    const principal = await this.auth.authenticate(creds);
    req.principal = principal;
    const required = options?.permission === undefined ? [] : [options.permission].flat();
    const allowed =
      required.length === 0 ||
      principal.permissions.includes('admin') ||
      required.some((p) => principal.permissions.includes(p));
    if (!allowed) throw new AppException(ErrorCode.E4005, { message: `Requires permission: ${required.join(' or ')}` });
    return true;
  }
}
