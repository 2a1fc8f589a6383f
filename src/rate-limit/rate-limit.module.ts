import { Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { StreamSlotsPort } from '../common/ports/stream-slots.port';
import { AppConfig } from '../config/app-config';
import { ErrorMonitoringModule } from '../error-monitoring/error-monitoring.module';
import { RATE_LIMITED_TOTAL, RateLimitGuard } from './rate-limit.guard';
import { RateLimitStore } from './rate-limit.store';
import { StoreOutageMonitor } from './store-outage.monitor';
import { StreamSlotsService } from './stream-slots.service';

const rateLimitedTotal = makeCounterProvider({
  name: RATE_LIMITED_TOTAL,
  help: 'Requests refused with 429 E4004, by route template',
  labelNames: ['route'],
});

/** The counter store, in a module of its own so ThrottlerModule's async factory can import it. */
@Module({
  imports: [ErrorMonitoringModule],
  providers: [StoreOutageMonitor, RateLimitStore],
  exports: [StoreOutageMonitor, RateLimitStore],
})
export class RateLimitStoreModule {}

/**
 * Rate-limit counters and stream slots (Redis, with an in-process fallback). The guard is registered
 * in app.module.ts, right after the auth guard, so limits are per key.
 */
@Module({
  imports: [
    RateLimitStoreModule,
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStoreModule],
      inject: [AppConfig, RateLimitStore],
      useFactory: (config: AppConfig, storage: RateLimitStore) => ({
        throttlers: [{ name: 'default', limit: config.rateLimit.defaultLimit, ttl: config.rateLimit.windowMs }],
        storage,
      }),
    }),
  ],
  providers: [
    rateLimitedTotal,
    RateLimitGuard,
    StreamSlotsService,
    { provide: StreamSlotsPort, useExisting: StreamSlotsService },
  ],
  exports: [RateLimitStoreModule, RateLimitGuard, StreamSlotsPort],
})
export class RateLimitModule {}
