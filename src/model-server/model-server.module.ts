import { Module } from '@nestjs/common';
import { AiModelHealthPort } from '../common/ports/ai-model-health.port';
import { modelServerMetricProviders } from './model-server.metrics';
import { ModelServerPool } from './model-server.pool';
import { ModelServerService } from './model-server.service';

/** Model-server clients, pool and health (bound to AiModelHealthPort for the health module). */
@Module({
  providers: [
    ...modelServerMetricProviders,
    ModelServerPool,
    ModelServerService,
    { provide: AiModelHealthPort, useExisting: ModelServerPool },
  ],
  exports: [ModelServerPool, ModelServerService, AiModelHealthPort],
})
export class ModelServerModule {}
