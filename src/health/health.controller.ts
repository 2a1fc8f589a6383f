import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Response } from 'express';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { AppConfig } from '../config/app-config';
import { HealthService } from './health.service';

/** Absolute routes (no API prefix): load balancers and orchestrators call these. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly terminus: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Service status',
    description:
      'healthy, degraded (Redis down or no model server: serving with a fallback) or unhealthy (database down, 503), with each dependency in the seeds shape. Runs the checks; load balancers should call /health/live or /health/ready.',
  })
  @ApiOkResponse({ description: '{status, version, uptime, services: {database, redis, ai_model}}' })
  async summary(@Res({ passthrough: true }) res: Response) {
    const body = await summarize(this.health, this.config);
    if (body.status === 'unhealthy') res.status(503);
    return body;
  }

  @Get('detailed')
  @Authenticated({ permission: 'ops:read' })
  @ApiOperation({
    summary: 'Service status in detail',
    description:
      'Each dependency (database, Redis, model servers one by one) with its latency and error, plus process figures (pid, Node version, memory). Needs ops:read or admin.',
  })
  async detailed(@Res({ passthrough: true }) res: Response) {
    const checks = await this.health.all();
    const status = overall(checks.database.status, checks.redis.status, checks.ai_model.status);
    if (status === 'unhealthy') res.status(503);
    const mem = process.memoryUsage();
    return {
      status,
      version: this.config.env.version,
      environment: this.config.env.environment,
      uptime: this.health.uptimeSeconds(),
      timestamp: new Date().toISOString(),
      checks,
      process: { pid: process.pid, node: process.version, rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed },
    };
  }

  @Get('live')
  @ApiOperation({
    summary: 'Liveness probe',
    description: 'The process answers; checks no dependency, so a database outage never restarts the process.',
  })
  live() {
    return { status: 'ok', uptime: this.health.uptimeSeconds() };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness probe',
    description:
      'Terminus check of the database: 503 while it is unreachable, so the orchestrator sends no traffic. Redis and model servers do not count (the server serves without them).',
  })
  @ApiServiceUnavailableResponse({ description: 'Terminus error body naming the failing dependency' })
  ready() {
    return this.terminus.check([
      async () => {
        const db = await this.health.database();
        const ind = this.indicator.check('database');
        // Public: the driver's error can name hosts and ports; /health/detailed has it for operators.
        return db.status === 'up' ? ind.up({ latency_ms: db.latency_ms }) : ind.down({ error: 'unreachable' });
      },
    ]);
  }
}

/** GET /api/v1/health: the same summary under the API prefix, as the extension calls it. */
@ApiTags('health')
@Controller('health')
export class ApiHealthController {
  constructor(
    private readonly health: HealthService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Service status (under the API prefix)',
    description: 'Same as GET /health; the extension calls this one.',
  })
  async summary(@Res({ passthrough: true }) res: Response) {
    const body = await summarize(this.health, this.config);
    if (body.status === 'unhealthy') res.status(503);
    return body;
  }
}

async function summarize(health: HealthService, config: AppConfig) {
  const c = await health.all();
  return {
    status: overall(c.database.status, c.redis.status, c.ai_model.status),
    version: config.env.version,
    uptime: health.uptimeSeconds(),
    timestamp: new Date().toISOString(),
    services: {
      database: c.database.status === 'up' ? 'connected' : 'disconnected',
      redis:
        c.redis.status === 'up' ? 'connected' : c.redis.status === 'not_configured' ? 'in-process' : 'disconnected',
      ai_model: c.ai_model.status === 'up' ? 'available' : 'unavailable',
    },
  };
}

type Status = 'up' | 'down' | 'not_configured';
/** unhealthy = cannot serve (database down); degraded = serving with a fallback or without a model. */
function overall(database: Status, redis: Status, aiModel: Status): 'healthy' | 'degraded' | 'unhealthy' {
  if (database !== 'up') return 'unhealthy';
  if (redis === 'down' || aiModel === 'down') return 'degraded';
  return 'healthy';
}
