import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { describeRuntime, startServer } from './bootstrap';
import { JsonLogger } from './common/logging/json-logger';
import { ConfigValidationError, loadConfig } from './config/app-config';

async function main(): Promise<void> {
  // A local .env fills in what the real environment does not set.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (!(e instanceof ConfigValidationError)) throw e;
    process.stderr.write(e.message + '\n');
    process.exit(1);
  }
  const logger = new JsonLogger(config.logging.level, config.logging.structured);
  // A request must never take the process down; log what escaped and keep serving.
  process.on('unhandledRejection', (reason) =>
    logger.error(reason instanceof Error ? reason : String(reason), 'unhandledRejection'),
  );
  process.on('uncaughtException', (err) => logger.error(err, err.stack, 'uncaughtException'));

  const server = await startServer(config, logger);
  logger.always(`HAPA backend ${config.env.version} listening on ${server.url} ${describeRuntime(config)}`, {
    environment: config.env.environment,
  });
  const stop = (signal: string) => {
    logger.write('info', `${signal} received: draining`, { timeout_ms: config.http.shutdownTimeoutMs });
    server.shutdown().then(
      () => process.exit(0),
      (e) => {
        logger.error(e instanceof Error ? e : String(e), 'shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main().catch((e) => {
  process.stderr.write(`Failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
