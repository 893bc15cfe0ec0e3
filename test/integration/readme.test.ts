// The README's walkthroughs run as written. Every shell block of README.md (```sh, ```bash,
// ```shell) is run, in the order written, in ONE bash session, as a reader pasting them into a
// terminal would, except blocks preceded by `<!-- readme: not run (reason) -->` (blank lines may
// come between), which are listed with their reason. The session runs:
// - in a temporary folder that mirrors the clone (a symlink per top-level entry), so files a block
//   writes (the data dir, anything in the current folder) land there and never in the repository;
// - in a network namespace of its own (`unshare --net --pid`), so the README's fixed ports (8080,
//   50051) cannot collide with anything else on the machine, and everything the blocks start in the
//   background dies with the session;
// - with the reader's PATH (node_modules/.bin removed: `npm`/`npx` must find the pinned Node
//   themselves) and a fresh config folder, so saved CLI tokens start empty.
// It fails when a block exits non-zero (`set -e -o pipefail`), when anything prints an npm warning,
// when the repository gains or loses a file, or when the whole run exceeds its deadline.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { cleanupChorus, makeTempDir, REPO_ROOT } from '../helpers/chorus-process.ts';

const SHELL_FENCE = /^(\s*)```(sh|bash|shell)\s*$/;
const NOT_RUN = /^\s*<!--\s*readme:\s*not run\s*\((.+)\)\s*-->\s*$/;
const DEADLINE_MS = 180_000;

interface Block {
  readonly line: number;
  readonly code: string;
  readonly skipped: string | null;
}

/** The shell blocks of a Markdown text, each with its first line and its `not run` reason if any. */
export function shellBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = SHELL_FENCE.exec(lines[i] ?? '');
    if (!fence) continue;
    const indent = fence[1] ?? '';
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && (lines[j] ?? '').trim() !== '```') {
      const text = lines[j] ?? '';
      body.push(text.startsWith(indent) ? text.slice(indent.length) : text);
      j++;
    }
    // The marker is the nearest line above that is not blank (prettier puts a blank line between).
    let above = i - 1;
    while (above >= 0 && (lines[above] ?? '').trim() === '') above--;
    const marker = NOT_RUN.exec(lines[above] ?? '');
    blocks.push({ line: i + 1, code: body.join('\n'), skipped: marker?.[1] ?? null });
    i = j;
  }
  return blocks;
}

/** Files git sees in the repository (tracked or untracked, not ignored), to compare before/after. */
function repoFiles(): string {
  return execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
}

after(() => cleanupChorus());

void test('every README shell block meant to be run runs as written', async (t) => {
  const blocks = shellBlocks(await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8'));
  const run = blocks.filter((b) => b.skipped === null);
  const skipped = blocks.filter((b) => b.skipped !== null);
  t.diagnostic(`running ${run.length} blocks (lines ${run.map((b) => b.line).join(', ')})`);
  for (const b of skipped) t.diagnostic(`not run: README.md line ${b.line}: ${b.skipped}`);
  assert.ok(run.length >= 2, 'the curl and `chorus` walkthroughs are run');

  // A clone's view in a temporary folder: the repository's entries linked, the rest its own.
  const dir = await makeTempDir('chorus-readme-');
  const clone = path.join(dir, 'chorus');
  await mkdir(clone);
  for (const entry of await readdir(REPO_ROOT)) {
    if (entry === 'data' || entry === '.tmp') continue;
    await symlink(path.join(REPO_ROOT, entry), path.join(clone, entry));
  }
  const script = [
    'set -e -o pipefail',
    ...run.map((b) => `printf '\\n### README.md line ${b.line}\\n'\n${b.code}`),
    "printf '\\n### done\\n'",
  ].join('\n');
  await writeFile(path.join(dir, 'readme.sh'), script);

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('CHORUS_') && !key.startsWith('npm_')) env[key] = value;
  }
  env['PATH'] = (process.env['PATH'] ?? '')
    .split(path.delimiter)
    .filter((p) => !p.includes(`node_modules${path.sep}.bin`))
    .join(path.delimiter);
  env['XDG_CONFIG_HOME'] = path.join(dir, 'config');
  const userns = process.getuid?.() === 0 ? [] : ['--user', '--map-root-user'];
  const before = repoFiles();

  const child = spawn(
    'unshare',
    [
      ...userns,
      '--net',
      '--pid',
      '--fork',
      '--kill-child',
      'bash',
      '-c',
      'ip link set lo up && exec bash ../readme.sh',
    ],
    { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);

  const lastBlock = [...output.matchAll(/^### (.*)$/gm)].at(-1)?.[1] ?? 'none';
  assert.equal(code, 0, `the README failed in the block at ${lastBlock}:\n${output}`);
  assert.match(output, /^### done$/m);
  assert.doesNotMatch(output, /npm warn/i, `npm printed warnings:\n${output}`);
  assert.equal(repoFiles(), before, 'the walkthroughs changed files in the repository');
  // What the last block printed, for whoever reads the log (the node's JSON logs left out).
  const tail = output.slice(output.lastIndexOf('### README.md')).split('\n');
  for (const line of tail.filter((l) => !l.startsWith('{"level"')).slice(0, 40)) t.diagnostic(line);
});
