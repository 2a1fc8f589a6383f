import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { ModelServerModule } from '../model-server/model-server.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { AnswerCache } from './answer-cache';
import { generationMetricProviders } from './generation.metrics';
import { GenerationService } from './generation.service';

/** The generation core every front door uses: response cache, coalescing, stream slots, the upstream call. */
@Module({
  imports: [CacheModule, RateLimitModule, ModelServerModule],
  providers: [...generationMetricProviders, AnswerCache, GenerationService],
  exports: [GenerationService],
})
export class GenerationModule {}
