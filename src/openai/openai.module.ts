import { Module } from '@nestjs/common';
import { ErrorMonitoringModule } from '../error-monitoring/error-monitoring.module';
import { GenerationModule } from '../generation/generation.module';
import { ModelServerModule } from '../model-server/model-server.module';
import { ModelCards } from './model-cards';
import { OpenAiController } from './openai.controller';
import { openAiMetricProviders } from './openai.metrics';
import { OpenAiResponder } from './openai.responder';
import { OpenAiService } from './openai.service';

/** The OpenAI-compatible front door at /v1 over the generation core. */
@Module({
  imports: [GenerationModule, ModelServerModule, ErrorMonitoringModule],
  controllers: [OpenAiController],
  providers: [...openAiMetricProviders, ModelCards, OpenAiService, OpenAiResponder],
})
export class OpenAiModule {}
