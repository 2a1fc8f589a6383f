import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { FAULT_MARKER_RE, outputStyleFor } from './emulator-output';
import { CompletionPlan, EmulatorFinishReason, planCompletion } from './emulator-plan';
import { countTokens } from './emulator-tokenizer';

export const EMULATOR_FAULTS = [
  'http-500',
  'http-429',
  'hang-before-headers',
  'cut-mid-stream',
  'malformed-chunk',
  'slow-drip',
  'error-event',
  /** A complete answer and [DONE], but the connection is held open afterwards. */
  'done-keep-open',
  /** `data: [DONE]` alone: no token, no finish_reason. */
  'done-only',
  /** An answer of `hugeAnswerBytes` bytes, written as fast as the client takes it (backpressure honoured). */
  'huge-answer',
  /** 400 "maximum context length" in vLLM's current error shape. */
  'context-length',
  /** Half the answer, ended with finish_reason "abort" (vLLM's engine dropped the request), then [DONE]. */
  'finish-abort',
] as const;
export type EmulatorFault = (typeof EMULATOR_FAULTS)[number];

export interface EmulatorOptions {
  ttftMs?: number;
  tokenDelayMs?: number;
  /** Token interval under the `slow-drip` fault; default 2000. */
  slowDripMs?: number;
  /** Extend every answer with code lines so exactly `max_tokens` tokens are streamed. */
  padToMaxTokens?: boolean;
  healthy?: boolean;
  /** End HAPA streams with `data: [DONE]` (older builds) instead of `{"type":"done"}`. */
  hapaLegacyDone?: boolean;
  baseModel?: string;
  adapters?: string[];
  /** Size of the `huge-answer` fault's answer, bytes; default 40 MiB. */
  hugeAnswerBytes?: number;
}

export interface EmulatorStats {
  /** Generation requests, both protocols, stream or not, including rejected ones. */
  requests: number;
  /** Every non-control request by path (health probes and model listings included). */
  byRoute: Record<string, number>;
  inFlight: number;
  /** Generation requests still before their first token. */
  waiting: number;
  /** Generation responses the emulator finished (errors and injected cuts included). */
  completed: number;
  /** Generation responses whose client went away first. */
  disconnects: number;
  /** `Date.now()` of the last ≤ 1000 disconnects. */
  disconnectTimes: number[];
  queuedFaults: EmulatorFault[];
}

export type EmulatorProtocol = 'openai' | 'hapa';

export interface EmulatorRequestRecord {
  route: string;
  protocol: EmulatorProtocol;
  /** OpenAI `model` (base or adapter name) or HAPA `model_type`, as sent. */
  model?: string;
  /** The LoRA adapter that answered; undefined for the base model or a rejected request. */
  adapter?: string;
  /** The completion prompt, or the chat messages' contents joined by newlines. */
  prompt: string;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  /** `stop` normalised to an array. */
  stop?: string[];
  stream: boolean;
  /** The whole parsed JSON body (null when it did not parse). */
  body: unknown;
  authorization?: string;
  headers: http.IncomingHttpHeaders;
  fault?: EmulatorFault;
  receivedAt: number;
  /** Response body bytes written so far (the `huge-answer` fault keeps it current while it writes). */
  bytesSent?: number;
}

type EmulatorEvents = { disconnect: [record: EmulatorRequestRecord] };

const DEFAULT_OPTIONS: Required<EmulatorOptions> = {
  ttftMs: 0,
  tokenDelayMs: 0,
  slowDripMs: 2000,
  padToMaxTokens: false,
  healthy: true,
  hapaLegacyDone: false,
  baseModel: 'deepseek-ai/deepseek-coder-6.7b-instruct',
  adapters: ['autocomplete', 'prompt', 'comment', 'error_fix'],
  hugeAnswerBytes: 40 * 1024 * 1024,
};

const OPENAI_END_MARKER = '<|EOT|>';
const HAPA_END_MARKER = '\n# --- Generation Complete ---';
const OPENAI_DEFAULT_MAX_TOKENS = 256;
const HAPA_DEFAULT_MAX_TOKENS = 1024;
const MAX_BODY_CHARS = 4 * 1024 * 1024;
const RECORD_LIMIT = 100;
const DISCONNECT_TIME_LIMIT = 1000;
const FAULT_AFTER_TOKENS = 3;
const MALFORMED_FRAME = 'data: {"choices": [ {\n\n';
const DONE_FRAME = 'data: [DONE]\n\n';
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

type GenerationKind = 'completion' | 'chat' | 'hapa';
type Json = Record<string, unknown>;

interface GenerationSpec {
  kind: GenerationKind;
  model: string;
  adapter?: string;
  /** What the answer is derived from: the prompt, or the last user message for chat. */
  source: string;
  /** Set when usage counts more than `source` (chat: every message). */
  promptTokens?: number;
  maxTokens: number;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
}

interface Rejection {
  status: number;
  message: string;
  type: string;
  /** The offending body field, for HAPA's FastAPI-style 422 details. */
  field?: string;
}

interface Exchange {
  readonly record: EmulatorRequestRecord;
  readonly res: http.ServerResponse;
  timer?: NodeJS.Timeout;
  ended: boolean;
  waiting: boolean;
}

interface FrameWriter {
  token(text: string, index: number, finish: EmulatorFinishReason | null): string;
  end(plan: CompletionPlan): string;
  error(): string;
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFault(value: unknown): value is EmulatorFault {
  return typeof value === 'string' && (EMULATOR_FAULTS as readonly string[]).includes(value);
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function normaliseStop(stop: unknown): string[] | undefined {
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return stop;
  return undefined;
}

function messageText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) return undefined;
  const parts: string[] = [];
  for (const part of content) {
    if (!isRecord(part) || (part.type !== undefined && part.type !== 'text') || typeof part.text !== 'string') {
      return undefined;
    }
    parts.push(part.text);
  }
  return parts.join('');
}

function joinedMessages(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return messages.map((m) => (isRecord(m) ? (messageText(m.content) ?? '') : '')).join('\n');
}

function promptOf(body: Json): string {
  if (typeof body.prompt === 'string') return body.prompt;
  if (Array.isArray(body.prompt) && typeof body.prompt[0] === 'string') return body.prompt[0];
  return joinedMessages(body.messages);
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function urlHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function promLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Validates an options patch received over HTTP; throws one message listing every bad field.
 */
export function parseOptionsPatch(input: unknown): Partial<EmulatorOptions> {
  if (!isRecord(input)) throw new Error('config must be a JSON object');
  const patch: Partial<EmulatorOptions> = {};
  const errors: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    switch (key) {
      case 'ttftMs':
      case 'tokenDelayMs':
      case 'slowDripMs':
      case 'hugeAnswerBytes':
        if (typeof value === 'number' && Number.isFinite(value) && value >= 0) patch[key] = value;
        else errors.push(`${key} must be a non-negative number`);
        break;
      case 'padToMaxTokens':
      case 'healthy':
      case 'hapaLegacyDone':
        if (typeof value === 'boolean') patch[key] = value;
        else errors.push(`${key} must be a boolean`);
        break;
      case 'baseModel':
        if (typeof value === 'string' && value) patch.baseModel = value;
        else errors.push('baseModel must be a non-empty string');
        break;
      case 'adapters':
        if (Array.isArray(value) && value.every((a) => typeof a === 'string' && a)) patch.adapters = value as string[];
        else errors.push('adapters must be an array of non-empty strings');
        break;
      default:
        errors.push(`unknown option ${key}`);
    }
  }
  if (errors.length) throw new Error(errors.join('; '));
  return patch;
}

/**
 * A vLLM (OpenAI-compatible, multi-LoRA) and HAPA model server over real HTTP, with deterministic
 * output, configurable timing and injectable faults. Emits `disconnect` with the request record
 * when a client leaves before its generation response finished.
 */
export class ModelServerEmulator extends EventEmitter<EmulatorEvents> {
  private readonly initialOptions: Required<EmulatorOptions>;
  private opts: Required<EmulatorOptions>;
  private server?: http.Server;
  private baseUrl = '';
  private readonly idPrefix = randomBytes(4).toString('hex');
  private seq = 0;
  private faultQueue: { fault: EmulatorFault; remaining: number }[] = [];
  private records: EmulatorRequestRecord[] = [];
  private byRoute: Record<string, number> = {};
  private requestCount = 0;
  private completedCount = 0;
  private disconnectCount = 0;
  private disconnectTimes: number[] = [];
  private inFlight = 0;
  private waiting = 0;
  private readonly open = new Set<Exchange>();

  constructor(opts: EmulatorOptions = {}) {
    super();
    this.initialOptions = { ...DEFAULT_OPTIONS, ...stripUndefined(opts) };
    this.initialOptions.adapters = [...this.initialOptions.adapters];
    this.opts = { ...this.initialOptions, adapters: [...this.initialOptions.adapters] };
  }

  get url(): string {
    return this.baseUrl;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server) throw new Error(`emulator already listening on ${this.baseUrl}`);
    const server = http.createServer({ keepAlive: true, noDelay: true }, this.onRequest);
    // Longer than HTTP clients' idle timeouts, so the client always closes an idle socket first
    // (otherwise a request can race the server's close and fail with ECONNRESET).
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The default backlog (511) drops SYNs when a benchmark opens 1,000 streams at once.
      // exclusive: in a cluster worker, listen(0) would otherwise share one port through the primary.
      server.listen({ port, host, backlog: 4096, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.baseUrl = `http://${urlHost(host)}:${(server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    // Unset first: exchanges torn down by the close below are not client disconnects.
    this.server = undefined;
    this.baseUrl = '';
    // Settle now rather than on each socket's later 'close', so stats and timers are final on return.
    for (const ex of [...this.open]) this.end(ex);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  configure(patch: Partial<EmulatorOptions>): void {
    const clean = stripUndefined(patch);
    this.opts = { ...this.opts, ...clean, adapters: [...(clean.adapters ?? this.opts.adapters)] };
  }

  config(): Required<EmulatorOptions> {
    return { ...this.opts, adapters: [...this.opts.adapters] };
  }

  queueFault(fault: EmulatorFault, count = 1): void {
    if (!isFault(fault)) {
      throw new Error(`unknown emulator fault ${String(fault)}; expected one of ${EMULATOR_FAULTS.join(', ')}`);
    }
    if (!Number.isInteger(count) || count < 1) throw new Error(`fault count must be a positive integer, got ${count}`);
    this.faultQueue.push({ fault, remaining: count });
  }

  stats(): EmulatorStats {
    return {
      requests: this.requestCount,
      byRoute: { ...this.byRoute },
      inFlight: this.inFlight,
      waiting: this.waiting,
      completed: this.completedCount,
      disconnects: this.disconnectCount,
      disconnectTimes: [...this.disconnectTimes],
      queuedFaults: this.faultQueue.flatMap((q) => Array<EmulatorFault>(q.remaining).fill(q.fault)),
    };
  }

  lastRequest(): EmulatorRequestRecord | undefined {
    return this.records[this.records.length - 1];
  }

  requests(): EmulatorRequestRecord[] {
    return [...this.records];
  }

  /** Zeroes counters, clears records and queued faults; `{config: true}` also restores the constructor options. */
  reset(options: { config?: boolean } = {}): void {
    this.requestCount = 0;
    this.completedCount = 0;
    this.disconnectCount = 0;
    this.disconnectTimes = [];
    this.byRoute = {};
    this.records = [];
    this.faultQueue = [];
    if (options.config) this.opts = { ...this.initialOptions, adapters: [...this.initialOptions.adapters] };
  }

  private readonly onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query >= 0 ? url.slice(0, query) : url;
    const method = req.method ?? 'GET';
    if (path.startsWith('/_emulator/')) return this.control(req, res, method, path);
    this.byRoute[path] = (this.byRoute[path] ?? 0) + 1;
    switch (`${method} ${path}`) {
      case 'POST /v1/completions':
        return this.readBody(req, res, (text) => this.generate(req, res, path, 'completion', text));
      case 'POST /v1/chat/completions':
        return this.readBody(req, res, (text) => this.generate(req, res, path, 'chat', text));
      case 'POST /generate/stream':
      case 'POST /generate':
        return this.readBody(req, res, (text) => this.generate(req, res, path, 'hapa', text));
      case 'GET /health':
      case 'HEAD /health':
        res.writeHead(this.opts.healthy ? 200 : 503, { 'content-length': '0' });
        return void res.end();
      case 'GET /v1/models':
        return sendJson(res, 200, this.modelList());
      case 'GET /metrics':
        return this.metrics(res);
      case 'GET /':
        return sendJson(res, 200, {
          message: 'HAPA model server (emulator)',
          status: this.opts.healthy ? 'running' : 'unhealthy',
          available_models: this.opts.adapters,
          base_model: this.opts.baseModel,
        });
      case 'GET /version':
        return sendJson(res, 200, { version: 'emulator' });
      default:
        return sendJson(res, 404, { detail: 'Not Found' });
    }
  };

  private readBody(req: http.IncomingMessage, res: http.ServerResponse, onBody: (text: string) => void): void {
    let text = '';
    let tooLarge = false;
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      if (tooLarge) return;
      text += chunk;
      tooLarge = text.length > MAX_BODY_CHARS;
    });
    req.on('end', () => (tooLarge ? sendJson(res, 413, { detail: 'Request body too large' }) : onBody(text)));
    // A client that aborts mid-body has no response to receive.
    req.on('error', () => undefined);
  }

  private generate(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    route: string,
    kind: GenerationKind,
    text: string,
  ): void {
    const protocol: EmulatorProtocol = kind === 'hapa' ? 'hapa' : 'openai';
    let body: unknown = null;
    let parsed = true;
    try {
      body = JSON.parse(text);
    } catch {
      parsed = false;
    }
    const ex = this.begin(this.describe(req, route, protocol, body), res);
    if (!parsed) {
      return kind === 'hapa'
        ? this.reject(ex, { status: 422, message: 'Invalid JSON body', type: 'value_error.jsondecode', field: '' })
        : this.reject(ex, { status: 400, message: 'Invalid JSON body', type: 'BadRequestError' });
    }
    const spec = kind === 'hapa' ? this.parseHapa(body, route === '/generate/stream') : this.parseOpenAi(body, kind);
    if ('status' in spec) return this.reject(ex, spec);
    ex.record.adapter = spec.adapter;

    const header = req.headers['x-emulator-fault'];
    let fault: EmulatorFault | undefined;
    if (typeof header === 'string' && header) {
      if (!isFault(header)) {
        return this.reject(ex, {
          status: 400,
          message: `Unknown x-emulator-fault ${header}; expected one of ${EMULATOR_FAULTS.join(', ')}`,
          type: 'BadRequestError',
        });
      }
      fault = header;
    } else {
      const marker = FAULT_MARKER_RE.exec(ex.record.prompt)?.[1];
      fault = isFault(marker) ? marker : this.takeQueuedFault();
    }
    ex.record.fault = fault;
    this.respond(ex, spec, fault);
  }

  private describe(
    req: http.IncomingMessage,
    route: string,
    protocol: EmulatorProtocol,
    body: unknown,
  ): EmulatorRequestRecord {
    const json = isRecord(body) ? body : {};
    const model = protocol === 'hapa' ? json.model_type : json.model;
    const authorization = req.headers.authorization;
    return {
      route,
      protocol,
      model: typeof model === 'string' ? model : undefined,
      prompt: promptOf(json),
      temperature: optionalNumber(json.temperature),
      top_p: optionalNumber(json.top_p),
      max_tokens: optionalNumber(json.max_tokens ?? json.max_completion_tokens),
      stop: normaliseStop(json.stop),
      stream: route === '/generate/stream' || json.stream === true,
      body,
      ...(authorization !== undefined && { authorization }),
      headers: req.headers,
      receivedAt: Date.now(),
    };
  }

  private parseOpenAi(body: unknown, kind: 'completion' | 'chat'): GenerationSpec | Rejection {
    const bad = (message: string): Rejection => ({ status: 400, message, type: 'BadRequestError' });
    if (!isRecord(body)) return bad('Request body must be a JSON object');
    let model = this.opts.baseModel;
    if (body.model !== undefined && body.model !== null) {
      if (typeof body.model !== 'string') return bad('model must be a string');
      if (body.model !== this.opts.baseModel && !this.opts.adapters.includes(body.model)) {
        return { status: 404, message: `The model \`${body.model}\` does not exist.`, type: 'NotFoundError' };
      }
      model = body.model;
    }
    if (body.suffix !== undefined && body.suffix !== null) return bad('suffix is not currently supported');

    let source: string;
    let promptTokens: number | undefined;
    if (kind === 'completion') {
      const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
      if (typeof prompt !== 'string') return bad('prompt must be a string (or a list of one string)');
      source = prompt;
    } else {
      const messages = body.messages;
      if (!Array.isArray(messages) || messages.length === 0) return bad('messages must be a non-empty array');
      let lastUser: string | undefined;
      for (const message of messages) {
        const content =
          isRecord(message) && typeof message.role === 'string' ? messageText(message.content) : undefined;
        if (content === undefined) return bad('each message needs a string role and text content');
        if (isRecord(message) && message.role === 'user') lastUser = content;
      }
      source = lastUser ?? joinedMessages(messages);
      promptTokens = countTokens(joinedMessages(messages));
    }

    const maxTokens = body.max_completion_tokens ?? body.max_tokens;
    if (maxTokens !== undefined && maxTokens !== null && (!Number.isInteger(maxTokens) || (maxTokens as number) < 1)) {
      return bad(`max_tokens must be at least 1, got ${JSON.stringify(maxTokens)}.`);
    }
    const { temperature, top_p: topP } = body;
    if (temperature !== undefined && temperature !== null && (typeof temperature !== 'number' || temperature < 0)) {
      return bad(`temperature must be non-negative, got ${JSON.stringify(temperature)}.`);
    }
    if (topP !== undefined && topP !== null && (typeof topP !== 'number' || topP <= 0 || topP > 1)) {
      return bad(`top_p must be in (0, 1], got ${JSON.stringify(topP)}.`);
    }
    const stop = body.stop === undefined || body.stop === null ? [] : normaliseStop(body.stop);
    if (!stop) return bad('stop must be a string or a list of strings');
    // vLLM's SamplingParams refuses them (OpenAI accepts them).
    if (stop.includes('')) return bad('stop cannot contain an empty string.');
    if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
      return bad('stream must be a boolean');
    }
    const stream = body.stream === true;
    const streamOptions = body.stream_options;
    if (streamOptions !== undefined && streamOptions !== null) {
      if (!stream) return bad('Stream options can only be defined when `stream=True`.');
      if (!isRecord(streamOptions)) return bad('stream_options must be an object');
    }
    if (body.n !== undefined && body.n !== null && body.n !== 1) return bad('The emulator supports n=1 only.');
    return {
      kind,
      model,
      adapter: model === this.opts.baseModel ? undefined : model,
      source,
      promptTokens,
      maxTokens: (maxTokens as number | null | undefined) ?? OPENAI_DEFAULT_MAX_TOKENS,
      stop,
      stream,
      includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
    };
  }

  private parseHapa(body: unknown, stream: boolean): GenerationSpec | Rejection {
    const invalid = (field: string, message: string): Rejection => ({
      status: 422,
      message,
      type: 'value_error',
      field,
    });
    if (!isRecord(body)) return invalid('', 'value is not a valid dict');
    if (typeof body.prompt !== 'string') return invalid('prompt', 'field required (string)');
    if (!Number.isInteger(body.user_id)) return invalid('user_id', 'field required (integer)');
    if (typeof body.model_type !== 'string') return invalid('model_type', 'field required (string)');
    const maxTokens = body.max_tokens;
    if (maxTokens !== undefined && maxTokens !== null && (!Number.isInteger(maxTokens) || (maxTokens as number) < 1)) {
      return invalid('max_tokens', 'ensure this value is a positive integer');
    }
    if (!this.opts.adapters.includes(body.model_type)) {
      return {
        status: 400,
        message: `Unsupported model_type '${body.model_type}'. Available: ${this.opts.adapters.join(', ')}`,
        type: 'BadRequest',
      };
    }
    return {
      kind: 'hapa',
      model: body.model_type,
      adapter: body.model_type,
      source: body.prompt,
      maxTokens: (maxTokens as number | null | undefined) ?? HAPA_DEFAULT_MAX_TOKENS,
      stop: [],
      stream,
      includeUsage: false,
    };
  }

  private takeQueuedFault(): EmulatorFault | undefined {
    const head = this.faultQueue[0];
    if (!head) return undefined;
    if (--head.remaining === 0) this.faultQueue.shift();
    return head.fault;
  }

  private respond(ex: Exchange, spec: GenerationSpec, fault: EmulatorFault | undefined): void {
    switch (fault) {
      case 'http-500':
        return this.reject(ex, { status: 500, message: 'Emulated internal server error', type: 'InternalServerError' });
      case 'http-429':
        return this.reject(
          ex,
          { status: 429, message: 'Emulated rate limit: too many requests', type: 'TooManyRequestsError' },
          { 'retry-after': '1' },
        );
      case 'hang-before-headers':
        return; // settled by the response's 'close' (client abort or close())
      case 'context-length':
        return this.reject(ex, {
          status: 400,
          message:
            "This model's maximum context length is 16384 tokens. However, you requested 20480 tokens " +
            '(16000 in the messages, 4480 in the completion). Please reduce the length of the messages or completion.',
          type: 'BadRequestError',
        });
      case 'huge-answer':
        return this.huge(ex, spec);
      case 'done-keep-open':
      case 'done-only':
      case 'cut-mid-stream':
      case 'malformed-chunk':
      case 'slow-drip':
      case 'error-event':
      case 'finish-abort':
      case undefined:
        break;
    }
    const plan = planCompletion({
      style: outputStyleFor(spec.adapter),
      prompt: spec.source,
      endMarker: spec.kind === 'hapa' ? HAPA_END_MARKER : OPENAI_END_MARKER,
      maxTokens: spec.maxTokens,
      stop: spec.stop,
      padToMaxTokens: this.opts.padToMaxTokens,
    });
    const delay = fault === 'slow-drip' ? this.opts.slowDripMs : this.opts.tokenDelayMs;
    if (spec.stream) this.stream(ex, spec, plan, fault, delay);
    else this.unary(ex, spec, plan, fault, delay);
  }

  /**
   * The `huge-answer` fault: `hugeAnswerBytes` of text, streamed (SSE frames of 1 KiB tokens) or as
   * one JSON body, each write waiting for 'drain' so a reader that stops stops the emulator too;
   * `bytesSent` shows how far it got.
   */
  private huge(ex: Exchange, spec: GenerationSpec): void {
    const { res } = ex;
    const total = this.opts.hugeAnswerBytes;
    const token = 'x'.repeat(1023) + '\n';
    const writer = this.frameWriter(spec);
    const frame = spec.stream ? writer.token(token, 1, null) : JSON.stringify(token).slice(1, -1);
    ex.record.bytesSent = 0;
    this.firstToken(ex);
    res.writeHead(200, spec.stream ? SSE_HEADERS : { 'content-type': 'application/json' });
    let text = 0;
    const send = (chunk: string): boolean => {
      ex.record.bytesSent! += Buffer.byteLength(chunk);
      return res.write(chunk);
    };
    const hapa = spec.kind === 'hapa';
    if (!spec.stream) {
      send(
        hapa
          ? '{"generated_text":"'
          : `{"object":"text_completion","model":${JSON.stringify(spec.model)},"choices":[{"index":0,"text":"`,
      );
    }
    const pump = (): void => {
      while (!ex.ended && text < total) {
        text += token.length;
        if (!send(frame)) return void res.once('drain', pump);
      }
      if (ex.ended) return;
      this.complete(ex);
      const doneFrame = hapa && !this.opts.hapaLegacyDone ? 'data: {"type":"done","text":""}\n\n' : DONE_FRAME;
      const end = spec.stream
        ? writer.token('', 2, 'length') + doneFrame
        : hapa
          ? '"}'
          : '","logprobs":null,"finish_reason":"length"}]}';
      ex.record.bytesSent! += Buffer.byteLength(end);
      res.end(end);
    };
    pump();
  }

  private frameWriter(spec: GenerationSpec): FrameWriter {
    if (spec.kind === 'hapa') {
      const done = this.opts.hapaLegacyDone ? DONE_FRAME : 'data: {"type":"done","text":""}\n\n';
      return {
        token: (text) => `data: {"text":${JSON.stringify(text)}}\n\n`,
        end: () => done,
        error: () => 'data: {"error":"Emulated model failure during generation"}\n\n',
      };
    }
    const chat = spec.kind === 'chat';
    const head =
      `data: {"id":"${this.nextId(chat)}","object":"${chat ? 'chat.completion.chunk' : 'text_completion'}",` +
      `"created":${Math.floor(Date.now() / 1000)},"model":${JSON.stringify(spec.model)},"choices":[`;
    return {
      token: (text, index, finish) => {
        const finishJson = finish ? `"${finish}"` : 'null';
        const delta = chat
          ? `"delta":{${index === 0 ? '"role":"assistant",' : ''}"content":${JSON.stringify(text)}}`
          : `"text":${JSON.stringify(text)}`;
        return `${head}{"index":0,${delta},"logprobs":null,"finish_reason":${finishJson}}]}\n\n`;
      },
      end: (plan) => {
        if (!spec.includeUsage) return DONE_FRAME;
        return `${head}],"usage":${JSON.stringify(usageOf(spec, plan))}}\n\n${DONE_FRAME}`;
      },
      error: () =>
        'data: {"error":{"message":"Emulated error during generation","type":"InternalServerError","param":null,"code":500}}\n\n' +
        DONE_FRAME,
    };
  }

  private stream(
    ex: Exchange,
    spec: GenerationSpec,
    plan: CompletionPlan,
    fault: EmulatorFault | undefined,
    delay: number,
  ): void {
    const writer = this.frameWriter(spec);
    const n = plan.tokens.length;
    const frames = plan.tokens.map((t, i) => writer.token(t, i, i === n - 1 ? plan.finishReason : null));
    if (n === 0) frames.push(writer.token('', 0, plan.finishReason));
    const faultAt = Math.min(FAULT_AFTER_TOKENS, Math.floor(n / 2));
    switch (fault) {
      case 'cut-mid-stream':
        return this.runSteps(ex, frames.slice(0, Math.floor(n / 2)), delay, 'destroy');
      case 'error-event':
        return this.runSteps(ex, [...frames.slice(0, faultAt), writer.error()], delay, 'end');
      case 'malformed-chunk':
        frames[faultAt] = MALFORMED_FRAME + frames[faultAt];
        break;
      case 'done-only':
        return this.runSteps(ex, [DONE_FRAME], 0, 'end');
      case 'done-keep-open':
        frames[frames.length - 1] += writer.end(plan);
        return this.runSteps(ex, frames, delay, 'hold');
      case 'finish-abort': {
        const half = Math.max(1, Math.floor(n / 2));
        const cut = plan.tokens.slice(0, half - 1).map((t, i) => writer.token(t, i, null));
        cut.push(writer.token(plan.tokens[half - 1] ?? '', half - 1, 'abort') + writer.end(plan));
        return this.runSteps(ex, cut, delay, 'end');
      }
      case 'http-500':
      case 'http-429':
      case 'hang-before-headers':
      case 'slow-drip':
      case 'huge-answer':
      case 'context-length':
      case undefined:
        break;
    }
    frames[frames.length - 1] += writer.end(plan);
    this.runSteps(ex, frames, delay, 'end');
  }

  // One timer at a time per stream: step i is due at ttft + i * delay from the start. Deadlines are
  // absolute so a busy event loop does not stretch streams; steps that fell due together go out in
  // one write, which also sheds syscalls under load. Without delays everything is a single write.
  private runSteps(ex: Exchange, steps: string[], delay: number, last: 'end' | 'destroy' | 'hold'): void {
    const { res } = ex;
    const ttft = this.opts.ttftMs;
    res.writeHead(200, SSE_HEADERS);
    if (ttft <= 0 && delay <= 0) {
      this.firstToken(ex);
      return this.settle(ex, steps.join(''), last);
    }
    res.flushHeaders();
    const firstAt = performance.now() + ttft;
    let sent = 0;
    const tick = (): void => {
      ex.timer = undefined;
      if (ex.ended) return;
      this.firstToken(ex);
      const now = performance.now();
      const due = delay > 0 ? Math.max(sent + 1, Math.floor((now - firstAt) / delay) + 1) : steps.length;
      if (due >= steps.length) return this.settle(ex, steps.slice(sent).join(''), last);
      res.write(due === sent + 1 ? steps[sent] : steps.slice(sent, due).join(''));
      sent = due;
      ex.timer = setTimeout(tick, Math.max(0, Math.round(firstAt + sent * delay - now)));
    };
    if (ttft > 0) ex.timer = setTimeout(tick, ttft);
    else tick();
  }

  private settle(ex: Exchange, data: string, last: 'end' | 'destroy' | 'hold'): void {
    const { res } = ex;
    this.complete(ex);
    if (last === 'end') return void res.end(data);
    // The answer is whole, but the connection stays open until the client closes it.
    if (last === 'hold') return void res.write(data);
    // An injected cut, not a client disconnect: flush what was "generated", then drop the socket.
    res.write(data, () => res.destroy());
  }

  private unary(
    ex: Exchange,
    spec: GenerationSpec,
    plan: CompletionPlan,
    fault: EmulatorFault | undefined,
    delay: number,
  ): void {
    const { res } = ex;
    const finish = (): void => {
      ex.timer = undefined;
      if (ex.ended) return;
      switch (fault) {
        case 'error-event':
          return this.reject(ex, {
            status: 500,
            message: 'Emulated error during generation',
            type: 'InternalServerError',
          });
        case 'malformed-chunk':
          res.writeHead(200, { 'content-type': 'application/json' });
          this.complete(ex);
          return void res.end(MALFORMED_FRAME.slice('data: '.length).trim());
        case 'cut-mid-stream': {
          const buf = Buffer.from(JSON.stringify(this.unaryBody(spec, plan)));
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': buf.length });
          this.complete(ex);
          return void res.write(buf.subarray(0, buf.length >> 1), () => res.destroy());
        }
        case 'http-500':
        case 'http-429':
        case 'hang-before-headers':
        case 'slow-drip':
        case 'done-keep-open':
        case 'done-only':
        case 'huge-answer':
        case 'context-length':
        case undefined:
          return this.reply(ex, 200, this.unaryBody(spec, plan));
        case 'finish-abort': {
          const half = plan.tokens.slice(0, Math.max(1, Math.floor(plan.tokens.length / 2)));
          return this.reply(ex, 200, this.unaryBody(spec, { ...plan, text: half.join(''), finishReason: 'abort' }));
        }
      }
    };
    const rest = Math.max(0, plan.tokens.length - 1) * delay;
    const first = (): void => {
      ex.timer = undefined;
      if (ex.ended) return;
      this.firstToken(ex);
      if (rest > 0) ex.timer = setTimeout(finish, rest);
      else finish();
    };
    if (this.opts.ttftMs > 0) ex.timer = setTimeout(first, this.opts.ttftMs);
    else first();
  }

  private unaryBody(spec: GenerationSpec, plan: CompletionPlan): Json {
    if (spec.kind === 'hapa') return { generated_text: plan.text };
    const chat = spec.kind === 'chat';
    const choice = chat
      ? {
          index: 0,
          message: { role: 'assistant', content: plan.text },
          logprobs: null,
          finish_reason: plan.finishReason,
        }
      : { index: 0, text: plan.text, logprobs: null, finish_reason: plan.finishReason };
    return {
      id: this.nextId(chat),
      object: chat ? 'chat.completion' : 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: spec.model,
      choices: [choice],
      usage: usageOf(spec, plan),
    };
  }

  private nextId(chat: boolean): string {
    return `${chat ? 'chatcmpl' : 'cmpl'}-${this.idPrefix}${(++this.seq).toString(16).padStart(8, '0')}`;
  }

  private begin(record: EmulatorRequestRecord, res: http.ServerResponse): Exchange {
    this.requestCount++;
    this.inFlight++;
    this.waiting++;
    this.records.push(record);
    if (this.records.length > RECORD_LIMIT) this.records.shift();
    const ex: Exchange = { record, res, ended: false, waiting: true };
    this.open.add(ex);
    res.on('close', () => this.onClose(ex));
    return ex;
  }

  private firstToken(ex: Exchange): void {
    if (!ex.waiting) return;
    ex.waiting = false;
    this.waiting--;
  }

  /** Ends the exchange's bookkeeping once; false when it had already ended. */
  private end(ex: Exchange): boolean {
    if (ex.timer) clearTimeout(ex.timer);
    ex.timer = undefined;
    if (ex.ended) return false;
    ex.ended = true;
    this.firstToken(ex);
    this.inFlight--;
    this.open.delete(ex);
    return true;
  }

  private complete(ex: Exchange): void {
    if (this.end(ex)) this.completedCount++;
  }

  private onClose(ex: Exchange): void {
    if (!this.end(ex) || !this.server) return;
    const now = Date.now();
    this.disconnectCount++;
    this.disconnectTimes.push(now);
    if (this.disconnectTimes.length > DISCONNECT_TIME_LIMIT) this.disconnectTimes.shift();
    this.emit('disconnect', ex.record);
  }

  private reject(ex: Exchange, rejection: Rejection, headers: http.OutgoingHttpHeaders = {}): void {
    const { status, message, type, field } = rejection;
    let body: unknown;
    // Current vLLM's shape; older builds answered {"object":"error","message",...} (the gateway reads both).
    if (ex.record.protocol === 'openai') body = { error: { message, type, param: null, code: status } };
    else if (field !== undefined) body = { detail: [{ loc: field ? ['body', field] : ['body'], msg: message, type }] };
    else body = { detail: message };
    this.reply(ex, status, body, headers);
  }

  private reply(ex: Exchange, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
    this.complete(ex);
    sendJson(ex.res, status, body, headers);
  }

  private modelList(): Json {
    const created = Math.floor(Date.now() / 1000);
    const base = this.opts.baseModel;
    const entry = (id: string, parent: string | null) => ({
      id,
      object: 'model',
      created,
      owned_by: 'vllm',
      root: base,
      parent,
      max_model_len: 16384,
      permission: [],
    });
    return { object: 'list', data: [entry(base, null), ...this.opts.adapters.map((a) => entry(a, base))] };
  }

  private metrics(res: http.ServerResponse): void {
    const label = `{model_name="${promLabel(this.opts.baseModel)}"}`;
    const text = [
      '# HELP vllm:num_requests_running Number of requests in model execution batches.',
      '# TYPE vllm:num_requests_running gauge',
      `vllm:num_requests_running${label} ${this.inFlight}`,
      '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
      '# TYPE vllm:num_requests_waiting gauge',
      `vllm:num_requests_waiting${label} ${this.waiting}`,
      '',
    ].join('\n');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(text);
  }

  private control(req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string): void {
    const withJson = (handle: (body: unknown) => unknown): void =>
      this.readBody(req, res, (text) => {
        try {
          sendJson(res, 200, handle(text.trim() ? JSON.parse(text) : {}));
        } catch (error) {
          sendJson(res, 400, { detail: error instanceof Error ? error.message : String(error) });
        }
      });
    switch (`${method} ${path}`) {
      case 'GET /_emulator/stats':
        return sendJson(res, 200, this.stats());
      case 'GET /_emulator/last':
        return sendJson(res, 200, this.lastRequest() ?? null);
      case 'GET /_emulator/requests':
        return sendJson(res, 200, this.requests());
      case 'GET /_emulator/config':
        return sendJson(res, 200, this.config());
      case 'POST /_emulator/faults':
        return withJson((body) => {
          if (!isRecord(body)) throw new Error('body must be {"fault": "...", "count": 1}');
          this.queueFault(body.fault as EmulatorFault, body.count === undefined ? 1 : (body.count as number));
          return { queuedFaults: this.stats().queuedFaults };
        });
      case 'POST /_emulator/config':
        return withJson((body) => {
          this.configure(parseOptionsPatch(body));
          return this.config();
        });
      case 'POST /_emulator/reset':
        return withJson((body) => {
          this.reset({ config: isRecord(body) && body.config === true });
          return { ok: true };
        });
      default:
        return sendJson(res, 404, { detail: 'Not Found' });
    }
  }
}

function usageOf(
  spec: GenerationSpec,
  plan: CompletionPlan,
): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const prompt = spec.promptTokens ?? plan.promptTokens;
  const completion = plan.tokens.length;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
