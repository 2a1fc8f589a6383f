import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { ErrorMonitoringModule } from '../error-monitoring/error-monitoring.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { UsersModule } from '../users/users.module';
import { CodeGenController } from './code-gen.controller';
import { codeGenMetricProviders } from './code-gen.metrics';
import { CodeGenService } from './code-gen.service';
import { SafetyValidator } from './safety-validator';
import { SseInterceptor } from './sse.interceptor';

/** Code generation routes: one-shot, SSE stream, autocomplete, models and model health. */
@Module({
  imports: [CacheModule, ErrorMonitoringModule, RateLimitModule, UsersModule],
  controllers: [CodeGenController],
  providers: [...codeGenMetricProviders, CodeGenService, SafetyValidator, SseInterceptor],
})
export class CodeGenModule {}
