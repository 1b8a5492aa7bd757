// The shape of src as ARCHITECTURE.md draws it (unit tests included): no import circle among src's modules (static,
// dynamic and type-only imports all count), and no folder reaching into another folder's files
// except through its index.ts. Read with TypeScript's own parser, so nothing is guessed from text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file names: imports, re-exports, import() and import('x') types. */
function specifiers(file: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) found.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      if (ts.isStringLiteral(node.argument.literal)) found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true));
  return found;
}

const files = sourceFiles(SRC);
const graph = new Map<string, string[]>(
  files.map((f) => [
    f,
    specifiers(f)
      .filter((s) => s.startsWith('.'))
      .map((s) => resolve(dirname(f), s)),
  ]),
);
const name = (f: string): string => relative(SRC, f).split(sep).join('/');

/** The circles of `graph`, each named once by its files. */
function circles(): string[] {
  const found = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const walk = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const next of graph.get(f) ?? []) {
      if (state.get(next) === 'open') found.add(stack.slice(stack.indexOf(next)).map(name).join(' -> '));
      else if (!state.has(next) && graph.has(next)) walk(next);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) walk(f);
  return [...found];
}

test('src has no import circle, type-only imports included', () => {
  assert.ok(files.length > 150, `read ${files.length} files`);
  assert.deepEqual(circles(), []);
});

test('a folder reaches another folder only through its index.ts', () => {
  const crossings: string[] = [];
  for (const [file, targets] of graph) {
    const folder = name(file).split('/')[0];
    for (const target of targets) {
      const [other, ...rest] = name(target).split('/');
      if (other !== folder && rest.join('/') !== 'index.ts') crossings.push(`${name(file)} -> ${name(target)}`);
    }
  }
  assert.deepEqual(crossings, []);
});
