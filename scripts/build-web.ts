// Builds the web page (web/src -> web/dist) with esbuild: one minified ES module and one stylesheet,
// named by content hash so they can be cached for a year, an index.html that points at them, and
// gzip/brotli copies that @fastify/static serves to browsers that accept them. Then the service
// worker (web/src/sw.ts -> web/dist/sw.js, a fixed name: its scope is the whole site) with this
// build's version and file list written in, so that every build is a new worker (see sw.ts).
//
//   npm run build:web              build once (prestart and pretest:e2e do this)
//   npm run build:web -- --watch   rebuild on every change while developing

import type * as Esbuild from 'esbuild';
import type { BuildOptions, Metafile } from 'esbuild';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { brotliCompress, constants, gzip } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const dist = join(web, 'dist');
const assets = join(dist, 'assets');

/** Browsers of the last few years (dialog, :focus-visible, color-mix are used by the page). */
const TARGET = ['chrome111', 'firefox113', 'safari16.4', 'edge111'];

const options: BuildOptions = {
  entryPoints: [join(web, 'src', 'main.tsx')],
  bundle: true,
  format: 'esm',
  target: TARGET,
  minify: true,
  sourcemap: 'linked',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/**
 * Writes index.html pointing at this build's hashed files, compressed copies of the files, and the
 * service worker that keeps them for offline reloads.
 */
async function finish(esbuild: typeof Esbuild, metafile: Metafile): Promise<void> {
  const outputs = Object.keys(metafile.outputs).map(
    (p) => '/' + relative(dist, join(root, p)).replaceAll('\\', '/'),
  );
  const js = outputs.find((p) => p.endsWith('.js'));
  const css = outputs.find((p) => p.endsWith('.css'));
  if (!js || !css) throw new Error(`build-web: expected a .js and a .css output, got ${outputs.join(', ')}`);
  const template = await readFile(join(web, 'index.html'), 'utf8');
  const html = template
    .replace('<!--styles-->', `<link rel="stylesheet" href="${css}" />`)
    .replace('<!--scripts-->', `<script type="module" src="${js}"></script>`);
  await writeFile(join(dist, 'index.html'), html);
  // The version names the whole shell: index.html and the hashed names it points at.
  const version = createHash('sha256').update(html).digest('hex').slice(0, 16);
  await esbuild.build({
    entryPoints: [join(web, 'src', 'sw.ts')],
    bundle: true,
    format: 'iife',
    target: TARGET,
    minify: true,
    outfile: join(dist, 'sw.js'),
    define: { CHORUS_SHELL: JSON.stringify({ version, files: [js, css] }) },
    legalComments: 'none',
    logLevel: 'warning',
  });

  const sizes: string[] = [];
  for (const file of [js, css]) {
    const path = join(dist, file);
    const body = await readFile(path);
    const [gz, br] = await Promise.all([
      promisify(gzip)(body, { level: 9 }),
      promisify(brotliCompress)(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    ]);
    await Promise.all([writeFile(`${path}.gz`, gz), writeFile(`${path}.br`, br)]);
    sizes.push(`${file} ${kb(body.length)} (${kb(gz.length)} gzip, ${kb(br.length)} brotli)`);
  }
  process.stdout.write(`build-web: ${sizes.join('; ')}\n`);
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} kB`;

/** esbuild is a devDependency: an install without them (a production image) keeps the built page. */
async function loadEsbuild(): Promise<typeof Esbuild | null> {
  try {
    return await import('esbuild');
  } catch {
    if (existsSync(join(dist, 'index.html'))) {
      process.stdout.write('build-web: esbuild is not installed (no devDependencies); keeping web/dist\n');
      return null;
    }
    throw new Error('build-web: esbuild is not installed and web/dist is missing: run `npm install` first');
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const esbuild = await loadEsbuild();
  if (!esbuild) return;
  await rm(dist, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  if (process.argv.includes('--watch')) {
    const ctx = await esbuild.context({
      ...options,
      plugins: [
        {
          name: 'index-html',
          setup(b) {
            b.onEnd(async (result) => {
              if (result.metafile) await finish(esbuild, result.metafile);
            });
          },
        },
      ],
    });
    await ctx.watch();
    process.stdout.write('build-web: watching web/src for changes\n');
    return;
  }
  const result = await esbuild.build(options);
  await finish(esbuild, result.metafile!);
  process.stdout.write(`build-web: done in ${Math.round(performance.now() - started)} ms\n`);
}

await main();
