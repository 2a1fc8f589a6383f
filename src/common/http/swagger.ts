import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppConfig } from '../../config/app-config';

export const API_KEY_SCHEME = 'api-key';
export const BEARER_SCHEME = 'bearer';
/** Set by @Authenticated: the permissions that grant the route ([] = any valid credential). */
export const PERMISSIONS_EXTENSION = 'x-hapa-permissions';
/** Set on /users/login: public in open registration, a credential in closed. */
export const WHEN_CLOSED_EXTENSION = 'x-hapa-credential-when-registration-closed';

/** Tags in reading order: a newcomer gets a key first. */
const TAGS: [string, string][] = [
  ['onboarding', 'Start here: get an API key (open registration) or a login token, then send it as X-API-Key.'],
  ['code generation', 'Generation (one-shot and SSE streams) and autocomplete.'],
  ['users', 'Your identity, onboarding profile and settings.'],
  ['api-keys', 'List, revoke and rotate your own keys.'],
  ['analytics', 'Usage and performance figures; completion telemetry from the editor.'],
  ['error-monitoring', 'Error dashboard, patterns and incidents.'],
  ['cache', 'Response-cache statistics and clearing.'],
  ['admin', 'Keys issued by an admin (the way in when registration is closed).'],
  ['health', 'Probes and effective configuration.'],
  ['metrics', 'Prometheus exposition.'],
  [
    'OpenAI-compatible (/v1)',
    'For OpenAI-compatible clients (Continue, Cline, Aider, the OpenAI SDKs): base URL <server>/v1, the same keys.',
  ],
];
const ONBOARDING_PATHS = ['/users/generate-api-key', '/users/login'];

const CREDENTIALS = 'Send the key as `X-API-Key: hapa_...` or `Authorization: Bearer <key or login token>`.';

/** The access line appended to every operation's description. */
function accessNote(op: Record<string, unknown>): string {
  if (op[WHEN_CLOSED_EXTENSION]) {
    return (
      '**Permission:** none while `REGISTRATION_MODE=open` (the development default); with `closed` ' +
      "(the production default), the user's own API key. " +
      CREDENTIALS
    );
  }
  const permissions = op[PERMISSIONS_EXTENSION] as string[] | undefined;
  if (permissions === undefined) return '**Permission:** none (public).';
  if (permissions.length === 0) return `**Permission:** any valid API key or login token. ${CREDENTIALS}`;
  const named = permissions.map((p) => `\`${p}\``).join(' or ');
  return `**Permission:** ${named}${permissions.includes('admin') ? '' : ' (or `admin`)'}. ${CREDENTIALS}`;
}

const ERROR_ENVELOPE = {
  type: 'object',
  required: ['status', 'error_code', 'message', 'incident_id', 'timestamp', 'path', 'request_id'],
  properties: {
    status: { type: 'string', enum: ['error'] },
    error_code: {
      type: 'string',
      example: 'E4003',
      description: 'One of the 22 catalogue codes (GET /api/v1/error-monitoring/codes)',
    },
    message: { type: 'string', example: 'Invalid API key or credentials' },
    incident_id: { type: 'string', example: 'INC-20261122-9F3A1C07', pattern: '^INC-\\d{8}-[0-9A-F]{8}$' },
    timestamp: { type: 'string', format: 'date-time' },
    path: { type: 'string', example: '/api/v1/code/generate' },
    request_id: { type: 'string' },
    details: {
      type: 'array',
      description: 'Validation errors only',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
    type: { type: 'string', enum: ['error'], description: 'Stream routes only' },
    content: { type: 'string', description: 'Stream routes only: the message again' },
  },
};

export function buildOpenApiDocument(app: INestApplication, config: AppConfig): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('HAPA backend')
    .setDescription(
      'Gateway for Python code models: code generation (one-shot and SSE), autocomplete, users and API keys, ' +
        'error monitoring, analytics, cache and health. Every error has the ErrorResponse shape, except on the ' +
        "OpenAI-compatible /v1 routes, which answer in OpenAI's envelope (OpenAiErrorResponseDto).",
    )
    .setVersion(config.env.version)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, API_KEY_SCHEME)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Login JWT or an API key' }, BEARER_SCHEME);
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const doc = SwaggerModule.createDocument(app, builder.build());
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, ErrorResponse: ERROR_ENVELOPE } };
  // The envelope is documented once and referenced by every operation.
  const ref = {
    description: 'Error (see ErrorResponse)',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
  };
  // The OpenAI-compatible routes answer errors in OpenAI's envelope (registered by their controller).
  const openAiRef = {
    description: 'Error (see OpenAiErrorResponseDto)',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/OpenAiErrorResponseDto' } } },
  };
  for (const [path, item] of Object.entries(doc.paths)) {
    const errors = path.startsWith('/v1/') ? openAiRef : ref;
    for (const op of Object.values(item)) {
      if (op && typeof op === 'object' && 'responses' in op) {
        op.responses = { ...op.responses, '4XX': errors, '5XX': errors };
        op.description = [op.description, accessNote(op as Record<string, unknown>)].filter(Boolean).join('\n\n');
        if (ONBOARDING_PATHS.some((p) => path === config.http.apiPrefix + p)) op.tags = ['onboarding'];
      }
    }
  }
  return doc;
}

export function setupSwagger(app: INestApplication, config: AppConfig): void {
  const doc = buildOpenApiDocument(app, config);
  SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs-json', customSiteTitle: 'HAPA backend API' });
}
