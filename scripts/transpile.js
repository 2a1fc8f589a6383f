#!/usr/bin/env node
// `npm start`'s build: transpiles the files tsconfig.build.json compiles into dist/, one file at a time
// without type checking (as ts-jest runs the test suite), and only those whose source is newer than
// their output. A fresh checkout builds in a second or two instead of a full `tsc`; an unchanged one in
// well under a second. Type errors are `npm run check`'s and `npm run build`'s job (CI, the Dockerfile).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const ROOT = path.resolve(__dirname, '..');
const configPath = path.join(ROOT, 'tsconfig.build.json');
const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, configPath);
const { rootDir } = parsed.options;
// --out-dir <dir> (tests): somewhere other than tsconfig's outDir, relative to the repository root.
const outArg = process.argv.indexOf('--out-dir');
const outDir = outArg > 0 ? path.resolve(ROOT, process.argv[outArg + 1]) : parsed.options.outDir;
const compilerOptions = { ...parsed.options, incremental: false, tsBuildInfoFile: undefined, declaration: false };

const isNewer = (src, out) => {
  try {
    return fs.statSync(src).mtimeMs > fs.statSync(out).mtimeMs;
  } catch {
    return true; // no output yet
  }
};

function write(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

let emitted = 0;
for (const src of parsed.fileNames) {
  const out = path.join(outDir, path.relative(rootDir, src)).replace(/\.ts$/, '.js');
  if (!isNewer(src, out)) continue;
  const result = ts.transpileModule(fs.readFileSync(src, 'utf8'), {
    compilerOptions,
    fileName: src,
    reportDiagnostics: false,
  });
  // JSON modules (resolveJsonModule), e.g. package.json for the version: copied where the output requires them.
  for (const m of result.outputText.matchAll(/require\("(\.{1,2}\/[^"]+\.json)"\)/g)) {
    const json = path.resolve(path.dirname(src), m[1]);
    const jsonOut = path.resolve(path.dirname(out), m[1]);
    if (isNewer(json, jsonOut)) write(jsonOut, fs.readFileSync(json, 'utf8'));
  }
  if (result.sourceMapText) {
    const map = JSON.parse(result.sourceMapText);
    map.sources = [path.relative(path.dirname(out), src)];
    write(out + '.map', JSON.stringify(map));
  }
  write(out, result.outputText);
  emitted++;
}
process.stdout.write(
  `transpiled ${emitted} of ${parsed.fileNames.length} files into ${path.relative(ROOT, outDir)}/\n`,
);
