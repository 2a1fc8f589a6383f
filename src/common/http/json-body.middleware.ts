import express, { NextFunction, Response } from 'express';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-codes';
import { AppRequest } from './app-request';

/**
 * JSON body parsing with coded errors. Nest's own body parser is off because its errors bypass
 * the exception filter (they would answer in Express's HTML format).
 */
export function jsonBodyMiddleware(limitBytes: number) {
  const parse = express.json({ limit: limitBytes, strict: false, type: ['application/json', 'application/*+json'] });
  return (req: AppRequest, res: Response, next: NextFunction): void => {
    if (!hasBody(req)) return next();
    if (!req.is(['application/json', 'application/*+json'])) {
      return next(new AppException(ErrorCode.E4001, { message: 'Content-Type must be application/json' }));
    }
    parse(req, res, (err?: unknown) => {
      if (!err) return next();
      const type = (err as { type?: string }).type;
      if (type === 'entity.too.large') {
        return next(new AppException(ErrorCode.E4008, { message: `Request body exceeds ${limitBytes} bytes` }));
      }
      if (type === 'entity.parse.failed') {
        return next(new AppException(ErrorCode.E4001, { message: 'Malformed JSON in request body' }));
      }
      if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
        return next(new AppException(ErrorCode.E4001, { message: 'Unsupported body encoding' }));
      }
      next(new AppException(ErrorCode.E4001, { message: 'Unreadable request body', cause: err }));
    });
  };
}

function hasBody(req: AppRequest): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
