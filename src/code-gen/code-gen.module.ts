import { Module } from '@nestjs/common';
import { CodeGenController } from './code-gen.controller';
import { codeGenMetricProviders } from './code-gen.metrics';
import { CodeGenService } from './code-gen.service';
import { SafetyValidator } from './safety-validator';
import { SseInterceptor } from './sse.interceptor';

/** Code generation routes: one-shot, SSE stream, autocomplete, models and model health. */
@Module({
  controllers: [CodeGenController],
  providers: [...codeGenMetricProviders, CodeGenService, SafetyValidator, SseInterceptor],
})
export class CodeGenModule {}
