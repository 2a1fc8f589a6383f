import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';
import { ApiKeyAuthService } from './api-key-auth.service';
import { newApiKeySecret } from './api-key-secret';
import { ApiKey } from './api-key.entity';
import { ApiKeyRepository } from './api-key.repository';
import { AdminIssueApiKeyDto, ApiKeySummaryDto, IssuedApiKeyDto } from './dto/api-key.dto';
import { AuthPrincipal } from '../common/http/app-request';
import { covers, SELF_SERVICE_PERMISSIONS } from './principal';

const DAY_MS = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const defaultUsername = (email: string): string => email.split('@')[0].slice(0, 100) || 'user';

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly config: AppConfig,
    private readonly keys: ApiKeyRepository,
    private readonly auth: ApiKeyAuthService,
  ) {}

  /** Self-service key (open registration): default permissions and expiry. */
  issueSelfService(email: string, username?: string): Promise<IssuedApiKeyDto> {
    return this.issue(email, username, {});
  }

  issueByAdmin(dto: AdminIssueApiKeyDto): Promise<IssuedApiKeyDto> {
    return this.issue(dto.email, dto.username, dto);
  }

  async listOwn(userId: string): Promise<ApiKeySummaryDto[]> {
    return (await this.keys.listByUser(userId)).map(toSummaryDto);
  }

  /** The caller's own key, and only one whose permissions the caller holds too (no escalation by rotation). */
  async revoke(caller: AuthPrincipal, id: string): Promise<{ id: string; status: 'revoked' }> {
    if (!UUID.test(id)) throw new AppException(ErrorCode.E4009, { message: 'API key not found' });
    const revoked = await this.keys.revoke(caller.userId, id, mayManage(caller));
    if (revoked === 'forbidden') throw forbidden();
    if (!revoked) throw new AppException(ErrorCode.E4009, { message: 'API key not found or already revoked' });
    await this.auth.invalidate(revoked.oldHash.trim());
    return { id, status: 'revoked' };
  }

  async rotate(caller: AuthPrincipal, id: string): Promise<IssuedApiKeyDto> {
    if (!UUID.test(id)) throw new AppException(ErrorCode.E4009, { message: 'API key not found' });
    const secret = newApiKeySecret();
    const days = this.config.security.apiKeyExpiryDays;
    const r = await this.keys.rotate(
      caller.userId,
      id,
      mayManage(caller),
      secret.hash,
      secret.displayPrefix,
      new Date(Date.now() + days * DAY_MS),
    );
    if (r === 'forbidden') throw forbidden();
    if (!r) throw new AppException(ErrorCode.E4009, { message: 'API key not found or already revoked' });
    await this.auth.invalidate(r.oldHash.trim());
    return toIssuedDto(
      r.key,
      secret.plaintext,
      days,
      'API key rotated: the previous key is revoked. Store this one now; it is shown once.',
    );
  }

  private async issue(
    email: string,
    username: string | undefined,
    opts: Pick<
      AdminIssueApiKeyDto,
      'permissions' | 'expires_in_days' | 'rate_limit' | 'max_concurrent_streams' | 'name'
    >,
  ): Promise<IssuedApiKeyDto> {
    const secret = newApiKeySecret();
    const days = opts.expires_in_days ?? this.config.security.apiKeyExpiryDays;
    const { key } = await this.keys.issueForEmail(
      email,
      username ?? defaultUsername(email),
      secret.hash,
      secret.displayPrefix,
      {
        permissions: opts.permissions ?? [...SELF_SERVICE_PERMISSIONS],
        expiresAt: new Date(Date.now() + days * DAY_MS),
        name: opts.name,
        rateLimit: opts.rate_limit,
        maxConcurrentStreams: opts.max_concurrent_streams,
      },
    );
    return toIssuedDto(
      key,
      secret.plaintext,
      days,
      'API key created. Store it now: it is shown once and cannot be retrieved again.',
    );
  }
}

const mayManage =
  (caller: AuthPrincipal) =>
  (target: readonly string[]): boolean =>
    covers(caller.permissions, target);

const forbidden = () =>
  new AppException(ErrorCode.E4005, {
    message: 'This credential lacks some of the key’s permissions: use a credential that has them all',
  });

function toIssuedDto(key: ApiKey, plaintext: string, days: number, message: string): IssuedApiKeyDto {
  return {
    api_key: plaintext,
    key_id: key.id,
    key_prefix: key.keyPrefix,
    user_id: key.userId,
    permissions: key.permissions,
    expires_in_days: days,
    expires_at: new Date(key.expiresAt).toISOString(),
    rate_limit: key.rateLimit,
    max_concurrent_streams: key.maxConcurrentStreams,
    message,
  };
}

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

export function toSummaryDto(key: ApiKey): ApiKeySummaryDto {
  const expired = new Date(key.expiresAt).getTime() <= Date.now();
  return {
    id: key.id,
    key_prefix: key.keyPrefix,
    name: key.name,
    permissions: key.permissions,
    status: key.revokedAt ? 'revoked' : expired ? 'expired' : 'active',
    rate_limit: key.rateLimit,
    max_concurrent_streams: key.maxConcurrentStreams,
    expires_at: new Date(key.expiresAt).toISOString(),
    revoked_at: iso(key.revokedAt),
    last_used_at: iso(key.lastUsedAt),
    created_at: new Date(key.createdAt).toISOString(),
  };
}
