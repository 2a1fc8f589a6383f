// `npm test` runs this first (pretest): installs the real third-party clients the /v1 tests drive
// (the OpenAI SDK, the Continue CLI and its adapters) when they are missing, from this folder's lock file.
// They stay out of the product's own `npm ci`.
const { existsSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const dir = __dirname;
const wanted = ['openai', '@continuedev/cli', '@continuedev/openai-adapters'];
if (wanted.every((p) => existsSync(path.join(dir, 'node_modules', p, 'package.json')))) process.exit(0);
console.log('installing the test clients (test/clients: npm ci)...');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
execFileSync(npm, ['ci', '--no-audit', '--no-fund', '--prefix', dir], { stdio: 'inherit' });
