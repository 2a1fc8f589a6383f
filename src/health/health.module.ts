import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ModelServerModule } from '../model-server/model-server.module';
import { ConfigController } from './config-status.controller';
import { ApiHealthController, HealthController } from './health.controller';
import { DependencyMonitor, dependencyUpGauge } from './dependency.monitor';
import { HealthService } from './health.service';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), ModelServerModule],
  controllers: [HealthController],
  providers: [HealthService, dependencyUpGauge, DependencyMonitor],
  exports: [HealthService],
})
export class HealthModule {}

/** Mounted under the API prefix: GET /api/v1/health and /api/v1/config/status. */
@Module({ imports: [HealthModule], controllers: [ApiHealthController, ConfigController] })
export class ApiHealthModule {}
