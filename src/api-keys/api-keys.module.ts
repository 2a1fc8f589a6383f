import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { AccessTokenService } from './access-token.service';
import { ApiKeyAuthService } from './api-key-auth.service';
import { ApiKey } from './api-key.entity';
import { ApiKeyRepository } from './api-key.repository';
import { AdminApiKeysController, ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { AuthFailureLimiter } from './auth-failure-limiter';
import { AuthGuard } from './auth.guard';

/**
 * Credentials: API keys, login tokens and the AuthGuard (registered in app.module.ts) that turns
 * either into a principal. The lower identity layer: users build on it, it never imports users.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ApiKey]), RateLimitModule],
  controllers: [ApiKeysController, AdminApiKeysController],
  providers: [ApiKeyRepository, AccessTokenService, ApiKeyAuthService, AuthFailureLimiter, ApiKeysService, AuthGuard],
  exports: [ApiKeysService, AccessTokenService, AuthGuard],
})
export class ApiKeysModule implements OnModuleInit {
  constructor(
    private readonly config: AppConfig,
    private readonly logger: AppLogger,
  ) {}

  onModuleInit(): void {
    const { registrationMode } = this.config.security;
    if (registrationMode === 'open' && this.config.env.isProduction) {
      this.logger.write('warn', 'REGISTRATION_MODE=open in production: anyone can obtain an API key for any email');
    }
  }
}
