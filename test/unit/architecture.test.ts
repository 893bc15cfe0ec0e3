// Architecture rule (docs/architecture.md sections 1 and 7): src/domain is pure. Every file in it imports only
// other files of src/domain, by relative path: no node: modules, no packages, nothing outside.
// Checked by reading the sources, so it also covers dynamic import() and re-exports.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const domainDir = join(root, 'src/domain');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(?:[cm]?ts|[cm]?js)$/.test(name) ? [path] : [];
  });
}

/** Every module specifier in a source text: static imports and re-exports, import(), require(). */
export function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const patterns = [
    /\b(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1/g,
    /\bimport\s*(['"])([^'"]+)\1/g,
    /\bimport\s*\(\s*(['"`])([^'"`]+)\1/g,
    /\brequire\s*\(\s*(['"`])([^'"`]+)\1/g,
  ];
  return patterns.flatMap((re) => [...code.matchAll(re)].map((m) => m[2]!));
}

void describe('architecture', () => {
  const files = sourceFiles(domainDir);

  void test('src/domain has source files to check', () => {
    assert.ok(files.length >= 5, `found ${files.length} files`);
    assert.ok(files.some((f) => f.endsWith('apply.ts')));
    const found = files.flatMap((f) => specifiers(readFileSync(f, 'utf8')));
    assert.ok(
      found.includes('./types.ts'),
      `the scanner finds the domain's own imports: ${found.join(', ')}`,
    );
  });

  void test('the specifier scanner sees every form of import', () => {
    const sample = [
      "import { a } from './a.ts';",
      "import type { B } from './b.ts';",
      "import './side-effect.ts';",
      "export * from 'node:fs';",
      'export { c } from "pkg";',
      'import {\n  d,\n  e,\n} from "../outside/d.ts";',
      "const m = await import('node:crypto');",
      "const r = require('fs');",
      "// import { x } from 'in-a-comment';",
      "/* import { y } from 'in-a-block-comment'; */",
    ].join('\n');
    assert.deepEqual(specifiers(sample).sort(), [
      '../outside/d.ts',
      './a.ts',
      './b.ts',
      './side-effect.ts',
      'fs',
      'node:crypto',
      'node:fs',
      'pkg',
    ]);
  });

  for (const file of files) {
    const name = relative(root, file);
    void test(`${name} imports only modules inside src/domain`, () => {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        assert.ok(
          spec.startsWith('./') || spec.startsWith('../'),
          `${name} imports "${spec}", which is not relative`,
        );
        const target = resolve(dirname(file), spec);
        assert.ok(
          target.startsWith(domainDir + '/'),
          `${name} imports "${spec}", which is outside src/domain (${relative(root, target)})`,
        );
      }
    });
  }
});
