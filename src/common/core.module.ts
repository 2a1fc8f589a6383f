import { DynamicModule, Global, Module } from '@nestjs/common';
import { ServerLifecycle } from './http/server-lifecycle';
import { AppLogger, JsonLogger } from './logging/json-logger';

/** Process-wide infrastructure every module may use: the logger and the server lifecycle (admission, drain). */
@Global()
@Module({})
export class CoreModule {
  static forRoot(logger: JsonLogger): DynamicModule {
    return {
      module: CoreModule,
      providers: [{ provide: AppLogger, useValue: logger }, ServerLifecycle],
      exports: [AppLogger, ServerLifecycle],
    };
  }
}
