import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AllExceptionsFilter } from './errors/all-exceptions.filter';
import { PersistingErrorReporter } from '../error-monitoring/persisting-error-reporter';
import { ErrorReporter, LoggingErrorReporter } from './errors/error-reporter';
import { ServerLifecycle } from './http/server-lifecycle';
import { AppValidationPipe } from './http/validation.pipe';
import { AppLogger, JsonLogger } from './logging/json-logger';

/** Cross-cutting wiring every feature relies on: logger, error path, validation, lifecycle. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(logger: JsonLogger): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: AppLogger, useValue: logger },
        LoggingErrorReporter,
        // Persists in batches and logs through LoggingErrorReporter (ErrorMonitoringModule is global).
        { provide: ErrorReporter, useExisting: PersistingErrorReporter },
        ServerLifecycle,
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_PIPE, useClass: AppValidationPipe },
      ],
      exports: [AppLogger, ErrorReporter, LoggingErrorReporter, ServerLifecycle],
    };
  }
}
