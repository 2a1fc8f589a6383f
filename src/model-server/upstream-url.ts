import { UpstreamProtocol, UpstreamServer } from './model-server.types';

/**
 * Parses VLLM_SERVER_URL: comma-separated URLs, each optionally prefixed `openai+` (the default)
 * or `hapa+` (the original HAPA model server), e.g. `hapa+http://10.0.0.5:8002`.
 */
export function parseUpstreamUrls(raw: string): UpstreamServer[] {
  return raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map(parseUpstreamUrl);
}

export function parseUpstreamUrl(raw: string): UpstreamServer {
  const m = /^(?:(openai|hapa)\+)?(https?:\/\/.+)$/i.exec(raw.trim());
  if (!m) throw new Error('model server URL must be http(s)://host:port, optionally prefixed openai+ or hapa+');
  const protocol = (m[1]?.toLowerCase() ?? 'openai') as UpstreamProtocol;
  const u = new URL(m[2]);
  let basePath = u.pathname.replace(/\/+$/, '');
  // An OpenAI base URL often ends in /v1; the client appends /v1/... itself.
  if (protocol === 'openai') basePath = basePath.replace(/\/v1$/, '');
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return {
    url: `${u.protocol}//${u.host}${basePath}`,
    origin: u.origin,
    basePath,
    protocol,
    label: `${u.hostname}:${port}`,
  };
}
