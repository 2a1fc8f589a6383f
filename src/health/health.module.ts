import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ApiHealthController, HealthController } from './health.controller';
import { DependencyMonitor, dependencyUpGauge } from './dependency.monitor';
import { HealthService } from './health.service';

@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [HealthService, dependencyUpGauge, DependencyMonitor],
  exports: [HealthService],
})
export class HealthModule {}

/** Mounted under the API prefix for GET /api/v1/health. */
@Module({ imports: [HealthModule], controllers: [ApiHealthController] })
export class ApiHealthModule {}
