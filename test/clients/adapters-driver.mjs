// Drives Continue's own adapter package (ESM) the way the Continue IDE extensions do, for the e2e
// suite: `node adapters-driver.mjs <list|fimStream|completionStream> '<json args>'` prints JSON.
import { constructLlmApi } from '@continuedev/openai-adapters';

const [op, raw] = process.argv.slice(2);
const args = JSON.parse(raw);
const api = constructLlmApi({ provider: 'openai', apiKey: args.apiKey, apiBase: args.apiBase });
const collect = async (stream) => {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
};
try {
  let out;
  if (op === 'list') out = await api.list();
  else if (op === 'fimStream') out = await collect(api.fimStream(args.body, new AbortController().signal));
  else if (op === 'completionStream')
    out = await collect(api.completionStream(args.body, new AbortController().signal));
  else throw new Error(`unknown operation ${op}`);
  process.stdout.write(JSON.stringify({ ok: out }));
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String(e?.message ?? e), name: e?.constructor?.name }));
}
