import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { AnalyticsModule } from '../analytics/analytics.module';
import { telemetryMetricProviders } from '../common/batching/telemetry-metrics';
import { ErrorReporter, LoggingErrorReporter } from '../common/errors/error-reporter';
import { ErrorsController, IncidentsController } from './error-monitoring.controller';
import { ERROR_MONITORING_ENTITIES } from './error-monitoring.entities';
import { ErrorMonitoringRepository } from './error-monitoring.repository';
import { ErrorMonitoringService } from './error-monitoring.service';
import { ERRORS_TOTAL, PersistingErrorReporter } from './persisting-error-reporter';

/**
 * Records every error response and serves the error dashboard, patterns and incidents. Binds the
 * ErrorReporter port (common/errors) to PersistingErrorReporter, which persists in batches and logs
 * through LoggingErrorReporter; modules that report errors import this one.
 */
@Module({
  imports: [TypeOrmModule.forFeature(ERROR_MONITORING_ENTITIES), AnalyticsModule],
  controllers: [ErrorsController, IncidentsController],
  providers: [
    makeCounterProvider({ name: ERRORS_TOTAL, help: 'Error responses by error code', labelNames: ['error_code'] }),
    ...telemetryMetricProviders,
    ErrorMonitoringRepository,
    ErrorMonitoringService,
    LoggingErrorReporter,
    PersistingErrorReporter,
    { provide: ErrorReporter, useExisting: PersistingErrorReporter },
  ],
  exports: [ErrorReporter],
})
export class ErrorMonitoringModule {}
