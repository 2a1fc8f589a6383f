// Fails on any import cycle: between files (the rules in .dependency-cruiser.cjs) and between feature
// folders, where each src/<folder> is one feature (its subfolders included) and test/, emulator/, bench/
// and migrations/ count as one each. dependency-cruiser's own folder scope compares exact folders, so it
// would miss a cycle such as src/common/core.module.ts -> src/error-monitoring -> src/common/errors.
import { cruise, format } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTsConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const ROOTS = ['src', 'test', 'emulator', 'bench', 'migrations'];

const options = await extractDepcruiseOptions('./.dependency-cruiser.cjs');
const { output: result } = await cruise(ROOTS, options, {}, { tsConfig: extractTsConfig('./tsconfig.json') });

let failed = false;
if (result.summary.error > 0) {
  failed = true;
  process.stdout.write((await format(result, { outputType: 'err' })).output);
}

/** src/<feature>/... -> src/<feature>; files directly in src/ are the app shell; other roots are one folder. */
function featureOf(path) {
  const parts = path.split('/');
  if (parts[0] === 'src') return parts.length > 2 ? `src/${parts[1]}` : 'src/*.ts';
  return parts[0];
}

// One example import per folder edge, to say where a cycle comes from.
const edges = new Map();
for (const mod of result.modules) {
  // A unit spec may reach a layer up for real inputs (the validator's spec uses the code-gen DTOs); file
  // cycles still count for it, folder layering is about the product code.
  if (mod.source.endsWith('.spec.ts')) continue;
  const from = featureOf(mod.source);
  for (const dep of mod.dependencies) {
    if (dep.coreModule || dep.couldNotResolve || !ROOTS.some((root) => dep.resolved.startsWith(`${root}/`))) continue;
    const to = featureOf(dep.resolved);
    if (to === from) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from).has(to)) edges.get(from).set(to, `${mod.source} -> ${dep.resolved}`);
  }
}

// Tarjan's strongly connected components: every component of more than one folder is a cycle.
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
let next = 0;
function visit(node) {
  index.set(node, next);
  low.set(node, next++);
  stack.push(node);
  onStack.add(node);
  for (const to of edges.get(node)?.keys() ?? []) {
    if (!index.has(to)) {
      visit(to);
      low.set(node, Math.min(low.get(node), low.get(to)));
    } else if (onStack.has(to)) {
      low.set(node, Math.min(low.get(node), index.get(to)));
    }
  }
  if (low.get(node) === index.get(node)) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) components.push(component.sort());
  }
}
for (const node of edges.keys()) if (!index.has(node)) visit(node);

for (const component of components) {
  failed = true;
  console.log(`\nerror folder cycle between ${component.join(', ')}:`);
  for (const from of component) {
    for (const [to, example] of edges.get(from) ?? []) if (component.includes(to)) console.log(`  ${example}`);
  }
}

const files = result.summary.totalCruised;
console.log(failed ? `\nimport cycles found (${files} files)` : `no import cycles (${files} files)`);
process.exit(failed ? 1 : 0);
