import 'reflect-metadata';
import cluster from 'node:cluster';
import { WORKER_READY, runPrimary } from './cluster-primary';
import { JsonLogger } from './common/logging/json-logger';
import { loadProcessConfig, logListening } from './config/app-config';
import { joinClusterMetrics } from './metrics/cluster-metrics';

async function main(): Promise<void> {
  const config = loadProcessConfig();
  if (!config) process.exit(1);
  const logger = new JsonLogger(config.logging.level, config.logging.structured);
  if (config.http.workers > 1 && cluster.isPrimary) return runPrimary(config, logger);
  // Before the application loads, so this worker can answer the primary's collection as soon as it serves.
  joinClusterMetrics();

  // A request must never take the process down; log what escaped and keep serving.
  process.on('unhandledRejection', (reason) =>
    logger.error(reason instanceof Error ? reason : String(reason), 'unhandledRejection'),
  );
  process.on('uncaughtException', (err) => logger.error(err, err.stack, 'uncaughtException'));

  // Loaded here so a cluster primary, which serves nothing, does not load the application.
  const { startServer } = await import('./bootstrap');
  const server = await startServer(config, logger);
  if (cluster.isWorker) process.send!({ type: WORKER_READY, url: server.url });
  else logListening(logger, config, server.url);
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
