import { Module } from '@nestjs/common';
import { ErrorMonitoringModule } from '../error-monitoring/error-monitoring.module';
import { GenerationModule } from '../generation/generation.module';
import { ModelServerModule } from '../model-server/model-server.module';
import { UsersModule } from '../users/users.module';
import { CodeGenController } from './code-gen.controller';
import { CodeGenService } from './code-gen.service';
import { SafetyValidator } from './safety-validator';
import { SseInterceptor } from './sse.interceptor';

/** The HAPA front door: one-shot, SSE stream, autocomplete, models and model health, over the generation core. */
@Module({
  imports: [GenerationModule, ModelServerModule, ErrorMonitoringModule, UsersModule],
  controllers: [CodeGenController],
  providers: [CodeGenService, SafetyValidator, SseInterceptor],
})
export class CodeGenModule {}
