import { StreamableFile } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Response } from 'express';

/**
 * Express adapter whose reply for a plain JSON body is one JSON.stringify and one `end`. Express's
 * `res.json` → `res.send` re-parses the content type, sets the charset and computes the length in
 * JavaScript on every response (about 5 % of a generate request's CPU); Node sets Content-Length
 * itself on `end(string)`. Anything else (files, strings, nothing, HEAD, bodiless statuses) takes Nest's path.
 */
export class LeanExpressAdapter extends ExpressAdapter {
  override reply(response: Response, body: unknown, statusCode?: number): unknown {
    if (
      body === null ||
      typeof body !== 'object' ||
      body instanceof StreamableFile ||
      body instanceof Error ||
      response.headersSent ||
      response.hasHeader('Content-Type') ||
      response.req.method === 'HEAD' ||
      statusCode === 204 ||
      statusCode === 205 ||
      statusCode === 304
    ) {
      return super.reply(response, body, statusCode);
    }
    const json = JSON.stringify(body);
    if (statusCode) response.statusCode = statusCode;
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    return response.end(json);
  }
}
