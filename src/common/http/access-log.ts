import type { Response } from 'express';
import { JsonLogger } from '../logging/json-logger';
import { AppRequest, routeTemplate } from './app-request';

/** One line per request, or no hook when info is off. The query string is left out: clients sometimes put tokens there. */
export function accessLogHook(logger: JsonLogger): ((req: AppRequest, res: Response) => void) | undefined {
  if (!logger.isEnabled('info')) return undefined;
  return (req, res) =>
    logger.write('info', 'request', {
      request_id: req.id,
      method: req.method,
      route: routeTemplate(req),
      path: req.path,
      status: res.statusCode,
      duration_ms: Math.round(Number(process.hrtime.bigint() - req.startedAt) / 1e4) / 100,
      key_id: req.principal?.apiKeyId,
      aborted: !res.writableFinished || undefined,
    });
}
