import { DynamicModule, Module, Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE, RouterModule } from '@nestjs/core';
import { AnalyticsModule } from './analytics/analytics.module';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthGuard } from './api-keys/auth.guard';
import { CacheModule } from './cache/cache.module';
import { CodeGenModule } from './code-gen/code-gen.module';
import { CoreModule } from './common/core.module';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter';
import { AppValidationPipe } from './common/http/validation.pipe';
import { JsonLogger } from './common/logging/json-logger';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { ErrorMonitoringModule } from './error-monitoring/error-monitoring.module';
import { ApiHealthModule, HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { OpenAiModule } from './openai/openai.module';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { RedisModule } from './redis/redis.module';
import { UsersModule } from './users/users.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: JsonLogger, extraModules: Type[] = []): DynamicModule {
    // Feature modules whose controllers live under API_V1_PREFIX.
    const apiModules: Type[] = [
      ApiHealthModule,
      CodeGenModule,
      ErrorMonitoringModule,
      AnalyticsModule,
      CacheModule,
      ApiKeysModule,
      UsersModule,
      RateLimitModule,
      ...extraModules,
    ];
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CoreModule.forRoot(logger),
        DatabaseModule,
        RedisModule,
        MetricsModule.forRoot(config.metrics.enabled),
        HealthModule,
        ...apiModules,
        // At the root, not under API_V1_PREFIX: OpenAI clients append /models, /completions... to `<base>/v1`.
        OpenAiModule,
        RouterModule.register([{ path: config.http.apiPrefix, children: apiModules }]),
      ],
      // Everything that runs on every request, in one place. Guards run in this order: authenticate
      // first, so the rate limiter counts per key.
      providers: [
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_PIPE, useClass: AppValidationPipe },
        { provide: APP_GUARD, useExisting: AuthGuard },
        { provide: APP_GUARD, useExisting: RateLimitGuard },
      ],
    };
  }
}
