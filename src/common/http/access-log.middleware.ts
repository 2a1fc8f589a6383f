import type { NextFunction, Response } from 'express';
import { JsonLogger } from '../logging/json-logger';
import { AppRequest, routeTemplate } from './app-request';

/** One line per request. The query string is left out: clients sometimes put tokens there. */
export function accessLogMiddleware(logger: JsonLogger) {
  return (req: AppRequest, res: Response, next: NextFunction): void => {
    if (!logger.isEnabled('info')) return next();
    res.once('close', () => {
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
    });
    next();
  };
}
