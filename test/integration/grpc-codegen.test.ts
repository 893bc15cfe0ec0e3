// The committed TypeScript of proto/ (src/api/grpc/generated/) must be what `npm run gen:grpc`
// makes now: regenerate into a temporary folder and compare file for file.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { generate, GENERATED_DIR, listGenerated } from '../../src/api/grpc/codegen.ts';

const temp = await mkdtemp(path.join(tmpdir(), 'chorus-codegen-'));
after(() => rm(temp, { recursive: true, force: true }));

void it('the generated gRPC types are up to date with proto/ (else run npm run gen:grpc)', async () => {
  const fresh = await generate(temp);
  const committed = await listGenerated(GENERATED_DIR);
  assert.deepEqual(committed, fresh, 'the same files');
  for (const file of fresh) {
    const [want, have] = await Promise.all([
      readFile(path.join(temp, file), 'utf8'),
      readFile(path.join(GENERATED_DIR, file), 'utf8'),
    ]);
    assert.equal(have, want, `${file} differs from what proto/ generates`);
  }
});
