import { Injectable } from '@nestjs/common';
import { AccessTokenService } from '../api-keys/access-token.service';
import { ApiKeysService, defaultUsername } from '../api-keys/api-keys.service';
import { EmailAndUsernameDto, IssuedApiKeyDto } from '../api-keys/dto/api-key.dto';
import { grants, JWT_PERMISSIONS } from '../api-keys/principal';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AuthPrincipal } from '../common/http/app-request';
import { AppConfig } from '../config/app-config';
import { LoginResponseDto, MeDto } from './dto/users.dto';
import { UsersRepository } from './users.repository';

/** Onboarding: self-service keys and login tokens (REGISTRATION_MODE decides who may get them). */
@Injectable()
export class UsersService {
  constructor(
    private readonly config: AppConfig,
    private readonly users: UsersRepository,
    private readonly apiKeys: ApiKeysService,
    private readonly tokens: AccessTokenService,
  ) {}

  private get open(): boolean {
    return this.config.security.registrationMode === 'open';
  }

  generateApiKey(dto: EmailAndUsernameDto): Promise<IssuedApiKeyDto> {
    if (!this.open) {
      throw new AppException(ErrorCode.E4005, {
        message: 'Registration is closed: API keys are issued by an administrator',
      });
    }
    return this.apiKeys.issueSelfService(dto.email, dto.username);
  }

  /**
   * Open: anyone gets a token for an email (the user is created if new; credentials are ignored).
   * Closed: the guard has required a credential; it must be that user's own (or an admin's), and the
   * token carries only the login-token permissions that credential has too.
   */
  async login(dto: EmailAndUsernameDto, principal?: AuthPrincipal): Promise<LoginResponseDto> {
    let userId: string;
    let scope: readonly string[] | undefined;
    if (this.open) {
      userId = (await this.users.upsertByEmail(dto.email, dto.username ?? defaultUsername(dto.email))).id;
    } else {
      if (!principal)
        throw new AppException(ErrorCode.E4003, { message: 'Registration is closed: log in with your API key' });
      const user = await this.users.findByEmail(dto.email);
      const allowed = user && (user.id === principal.userId || principal.permissions.includes('admin'));
      if (!allowed)
        throw new AppException(ErrorCode.E4005, { message: 'These credentials do not belong to this email' });
      userId = user.id;
      scope = JWT_PERMISSIONS.filter((p) => grants(principal.permissions, p));
    }
    return {
      access_token: this.tokens.sign(userId, Date.now(), scope),
      token_type: 'bearer',
      expires_in: this.tokens.ttlSeconds,
    };
  }

  async me(principal: AuthPrincipal): Promise<MeDto> {
    const user = await this.users.findById(principal.userId);
    if (!user) throw new AppException(ErrorCode.E4009, { message: 'User not found' });
    return { id: user.id, email: user.email, username: user.username };
  }
}
