// The registry of error reasons (src/domain/reasons.ts), as fastify's test/internals/errors.test.js
// checks lib/errors.js: every reason is documented in the README's error section and nothing else
// is, every reason makes a well-formed error with its name in details.reason on the wire, and no
// layer that uses the registry writes an error of its own inline.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ChorusError,
  chorusError,
  isErrorCode,
  REASONS,
  refusal,
  wireError,
  type Reason,
} from '../../../src/domain/index.ts';
import { REASON_AREAS } from '../../../src/domain/reasons.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NAMES = Object.keys(REASONS) as Reason[];

/** The README's "Error reasons" section, up to the next heading. */
function errorSection(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n### Error reasons\n');
  assert.ok(start >= 0, 'the README has an "### Error reasons" section');
  const end = readme.indexOf('\n#', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Arguments for any template: every field reads as its own name (numbers where arithmetic needs one). */
const SAMPLE = new Proxy(
  {},
  {
    get: (_target, key) =>
      key === 'maxTrackDurationMs' || key === 'durationMs'
        ? 90_000
        : key === 'nodes'
          ? ['nodes']
          : typeof key === 'string'
            ? key
            : undefined,
  },
);

void test('every reason is listed in the README error section, and only reasons are', () => {
  const section = errorSection();
  const listed = [...section.matchAll(/^\| `([A-Z_]+)` +\|/gm)].map((m) => m[1]!);
  const missing = NAMES.filter((name) => !listed.includes(name));
  assert.deepEqual(missing, [], `reasons missing from the README's error table: ${missing.join(', ')}`);
  const unknown = listed.filter((name) => !(name in REASONS));
  assert.deepEqual(unknown, [], `README lists reasons that do not exist: ${unknown.join(', ')}`);
  assert.equal(new Set(listed).size, listed.length, 'each reason is listed once');
});

void test('each reason is declared in one area file only', () => {
  // The registry spreads the area tables into one: a name declared in two areas would silently
  // keep only the later declaration.
  const declared = Object.values(REASON_AREAS).flatMap((table) => Object.keys(table));
  const twice = declared.filter((name, i) => declared.indexOf(name) !== i);
  assert.deepEqual(twice, [], `reasons declared in two area files: ${twice.join(', ')}`);
  assert.equal(declared.length, NAMES.length);
});

void test('the README table gives each reason its registry code', () => {
  for (const [, name, code] of errorSection().matchAll(/^\| `([A-Z_]+)` +\| `([A-Z_]+)` +\|/gm)) {
    assert.equal(code, REASONS[name as Reason].code, `${name}'s code in the README`);
  }
});

void test('every reason makes a well-formed error that names it', () => {
  for (const name of NAMES) {
    assert.match(name, /^[A-Z][A-Z0-9_]*$/);
    const info = (refusal as (name: Reason, args: unknown) => ReturnType<typeof refusal>)(name, SAMPLE);
    assert.ok(isErrorCode(info.code), `${name}: code ${info.code}`);
    assert.equal(info.code, REASONS[name].code);
    assert.ok(info.message.length > 0 && !info.message.includes('undefined'), `${name}: "${info.message}"`);
    assert.equal(info.reason, name);
    assert.equal(wireError(info).details?.['reason'], name, `${name} rides in details.reason`);
  }
});

void test('a refusal keeps its details beside the reason, and round-trips as a ChorusError', () => {
  const info = refusal('QUEUE_FULL', { maxQueueLength: 3 });
  assert.deepEqual(info, {
    code: 'FAILED_PRECONDITION',
    message: 'the queue is full (3 entries)',
    details: { maxQueueLength: 3 },
    reason: 'QUEUE_FULL',
  });
  assert.deepEqual(wireError(info), {
    code: 'FAILED_PRECONDITION',
    message: 'the queue is full (3 entries)',
    details: { reason: 'QUEUE_FULL', maxQueueLength: 3 },
  });
  const err = chorusError('ROOM_NOT_FOUND', { roomId: 'friday' });
  assert.ok(err instanceof ChorusError);
  assert.equal(err.message, 'room friday does not exist');
  assert.equal(err.reason, 'ROOM_NOT_FOUND');
  assert.deepEqual(ChorusError.from(err.toInfo()).toInfo(), err.toInfo());
  // An error without a reason (another system's) goes out as it came.
  assert.deepEqual(wireError({ code: 'INTERNAL', message: 'x' }), { code: 'INTERNAL', message: 'x' });
  // An error that names its own reason in details (as the 2PC store's do) keeps it.
  assert.equal(
    wireError({ code: 'UNAVAILABLE', message: 'x', details: { reason: 'NOT_LEADER' } }).details?.['reason'],
    'NOT_LEADER',
  );
});

void test('the layers that use the registry write no error of their own inline', () => {
  // Allowed: the class itself, the gRPC client rebuilding an error it received, and the code not
  // nothing else: the CLI's own refusals are built in its table (src/cli/errors.ts), as the
  // registry's are.
  const allowed = ['src/domain/errors.ts', 'src/api/grpc/errors.ts', 'src/cli/errors.ts'];
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'generated') walk(rel);
      } else if (rel.endsWith('.ts') && !allowed.some((a) => rel.startsWith(a))) {
        const text = readFileSync(path.join(ROOT, rel), 'utf8');
        if (/new ChorusError\(|errorInfo\(/.test(text)) offenders.push(rel);
      }
    }
  };
  walk('src');
  assert.deepEqual(offenders, [], 'these files build errors inline instead of through src/domain/reasons.ts');
});
