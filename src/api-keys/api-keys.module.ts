import { Module, OnModuleInit } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { User } from '../users/user.entity';
import { AccessTokenService } from './access-token.service';
import { ApiKeyAuthService } from './api-key-auth.service';
import { ApiKey } from './api-key.entity';
import { ApiKeyRepository } from './api-key.repository';
import { AdminApiKeysController, ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { AuthFailureLimiter } from './auth-failure-limiter';
import { AuthGuard } from './auth.guard';

@Module({
  imports: [TypeOrmModule.forFeature([ApiKey, User]), RateLimitModule],
  controllers: [ApiKeysController, AdminApiKeysController],
  providers: [
    ApiKeyRepository,
    AccessTokenService,
    ApiKeyAuthService,
    AuthFailureLimiter,
    ApiKeysService,
    // Order matters: authenticate first, so the limiter counts per key.
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [ApiKeysService, AccessTokenService, ApiKeyAuthService],
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
