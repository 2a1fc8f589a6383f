import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { telemetryMetricProviders } from '../common/batching/telemetry-metrics';
import { makeCounterProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { AnalyticsController } from './analytics.controller';
import { ANALYTICS_ENTITIES } from './analytics.entities';
import { AnalyticsRepository } from './analytics.repository';
import { AnalyticsService } from './analytics.service';
import { GATEWAY_OVERHEAD, TIME_TO_FIRST_TOKEN, TOKENS_USED, UPSTREAM_DURATION, UsageRecorder } from './usage-recorder';

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

@Module({
  imports: [TypeOrmModule.forFeature(ANALYTICS_ENTITIES)],
  controllers: [AnalyticsController],
  providers: [
    makeCounterProvider({
      name: TOKENS_USED,
      help: 'Model tokens by adapter and direction (input = prompt, output = completion)',
      labelNames: ['adapter', 'direction'],
    }),
    makeHistogramProvider({
      name: TIME_TO_FIRST_TOKEN,
      help: 'Seconds from request start to the first model token',
      buckets: SECONDS_BUCKETS,
    }),
    makeHistogramProvider({
      name: UPSTREAM_DURATION,
      help: 'Seconds spent waiting on the model server per request',
      buckets: SECONDS_BUCKETS,
    }),
    makeHistogramProvider({
      name: GATEWAY_OVERHEAD,
      help: 'Request time minus time waiting on the model server (seconds)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    }),
    ...telemetryMetricProviders,
    AnalyticsRepository,
    UsageRecorder,
    AnalyticsService,
  ],
  exports: [AnalyticsRepository],
})
export class AnalyticsModule {}
