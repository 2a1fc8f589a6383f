import { Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { UsageRecorder } from './analytics/usage-recorder';
import { AppModule } from './app.module';
import { SSE_ROUTES } from './code-gen/sse';
import { accessLogHook } from './common/http/access-log';
import { LeanExpressAdapter } from './common/http/lean-express.adapter';
import { jsonBodyMiddleware } from './common/http/json-body.middleware';
import { requestPipeline } from './common/http/request-pipeline';
import { answerClientErrors } from './common/http/client-errors';
import { ServerLifecycle } from './common/http/server-lifecycle';
import { setupSwagger } from './common/http/swagger';
import { JsonLogger } from './common/logging/json-logger';
import { AppConfig } from './config/app-config';
import { HttpMetricsService } from './metrics/http-metrics.service';

export interface RunningServer {
  app: NestExpressApplication;
  config: AppConfig;
  logger: JsonLogger;
  url: string;
  /** Graceful stop: drain in-flight requests up to SHUTDOWN_TIMEOUT, flush, close connections. */
  shutdown(): Promise<void>;
}

/** Builds the application exactly as production runs it; tests call this too. */
export interface AppOptions {
  /** Extra modules mounted under the API prefix (tests of cross-cutting behaviour). */
  extraModules?: Type[];
}

export async function createApp(
  config: AppConfig,
  logger: JsonLogger,
  options: AppOptions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, logger, options.extraModules),
    new LeanExpressAdapter(),
    {
      bodyParser: false,
      logger,
      abortOnError: false,
    },
  );
  app.disable('x-powered-by');
  app.set('etag', false); // API responses are not revalidated; an ETag costs a hash per response
  // Behind a load balancer every client would otherwise share its address (limits, failed-auth budget, logs).
  app.set('trust proxy', config.http.trustProxy);
  app.use(
    requestPipeline({
      lifecycle: app.get(ServerLifecycle),
      sseRoutes: new Set(SSE_ROUTES.map((p) => `${config.http.apiPrefix}/${p}`.toLowerCase())),
      onClose: [
        app.get(UsageRecorder).onClose,
        ...(config.metrics.enabled ? [app.get(HttpMetricsService).onClose] : []),
        ...[accessLogHook(logger)].filter((h) => h !== undefined),
      ],
    }),
  );
  app.use(
    jsonBodyMiddleware({
      maxBytes: config.http.maxBodySize,
      timeoutMs: config.http.bodyTimeoutMs,
      maxPendingPerAddress: config.http.maxPendingBodiesPerIp,
    }),
  );
  setupSwagger(app, config);
  return app;
}

const LISTEN_BACKLOG = 4096;

export async function startServer(
  config: AppConfig,
  logger?: JsonLogger,
  options?: AppOptions,
): Promise<RunningServer> {
  const log = logger ?? new JsonLogger(config.logging.level, config.logging.structured);
  const app = await createApp(config, log, options);
  // Node's default backlog (511) overflows when a burst of clients connects while the event loop is busy:
  // the kernel drops their SYNs and they retry after 1 s, 3 s, 7 s. Linux caps this at net.core.somaxconn.
  await (app.listen as unknown as (port: number, host: string, backlog: number) => Promise<unknown>)(
    config.http.port,
    config.http.host,
    LISTEN_BACKLOG,
  );
  const server = app.getHttpServer();
  // Keep-alive longer than typical load-balancer idle timeouts, so they close first.
  server.keepAliveTimeout = 65_000;
  // Receiving a request (headers and body, not the response: streams are not cut) is bounded by
  // REQUEST_BODY_TIMEOUT_SECONDS. Node checks these every 30 s; the body middleware enforces bodies to the second.
  server.requestTimeout = config.http.bodyTimeoutMs;
  server.headersTimeout = Math.min(66_000, config.http.bodyTimeoutMs);
  answerClientErrors(server, log);
  const { port } = server.address() as AddressInfo;
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  let stopping: Promise<void> | undefined;
  return {
    app,
    config,
    logger: log,
    url: `http://${host}:${port}`,
    shutdown: () =>
      (stopping ??= (async () => {
        const drained = await app.get(ServerLifecycle).drain(server, config.http.shutdownTimeoutMs);
        log.write('info', 'shutdown: requests drained', { all_finished: drained });
        await app.close();
      })()),
  };
}
