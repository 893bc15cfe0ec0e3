// The persistent window of remembered command ids (src/domain/recent.ts) against a plain array that
// keeps the last `kept` commands, on windows that fill and slide many times over: the same commands
// in the same order, found or forgotten alike (through the index by id), the same object as one
// rebuilt from the array (as restore() does), and older windows unchanged by later commands.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RecentWindow, type RecentCommand } from '../../../src/domain/index.ts';
import { fcParams } from './arbitraries.ts';

const command = (n: number): RecentCommand => ({
  commandId: `c${n}`,
  result: { type: 'setLocked', locked: n % 2 === 0 },
});

void test('the chunked window remembers and forgets exactly as an array of the last commands does', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 0, max: 400 }),
      fc.nat(40),
      (kept, count, first) => {
        let window = RecentWindow.EMPTY;
        let model: RecentCommand[] = [];
        const versions: [RecentWindow, RecentCommand[]][] = [];
        // A room's first remembered command may come at any version (a restored room carries on).
        for (let v = first + 1; v <= first + count; v++) {
          const c = command(v);
          window = window.remember(c, v, kept);
          model = [...model, c].slice(-kept);
          versions.push([window, model]);
          assert.equal(window.length, model.length);
        }
        assert.deepEqual([...window], model);
        assert.deepEqual(window.toJSON(), model);
        for (let v = first; v <= first + count + 1; v++) {
          assert.equal(
            window.find(`c${v}`),
            model.find((r) => r.commandId === `c${v}`),
            `find c${v}`,
          );
        }
        for (const i of [0, 1, model.length - 1, model.length, -1])
          assert.equal(window.at(i), model.at(i), `at ${i}`);
        assert.deepEqual(RecentWindow.fromArray(model, first + count), window, 'rebuilt from the array');
        for (const [w, m] of versions.filter((_, i) => i % 17 === 0))
          assert.deepEqual([...w], m, 'an older window');
      },
    ),
    fcParams(200),
  );
});

void test('a full window of 1,024 slides one command at a time and rebuilds to the same object', () => {
  let window = RecentWindow.EMPTY;
  for (let v = 1; v <= 3000; v++) window = window.remember(command(v), v);
  assert.equal(window.length, 1024);
  assert.equal(window.at(0)?.commandId, 'c1977');
  assert.equal(window.find('c1976'), undefined);
  assert.equal(window.find('c1977')?.commandId, 'c1977');
  assert.equal(window.find('c3000')?.commandId, 'c3000');
  assert.deepEqual(RecentWindow.fromArray([...window], 3000), window);
  assert.deepEqual(JSON.parse(JSON.stringify(window)), JSON.parse(JSON.stringify([...window])));
});

void test('the index forgets only the command that leaves: an id held twice (an old window) stays found', () => {
  const first: RecentCommand = { commandId: 'twice', result: { type: 'setLocked', locked: true } };
  const again: RecentCommand = { commandId: 'twice', result: { type: 'setLocked', locked: false } };
  let window = RecentWindow.fromArray([first, command(2), again], 3);
  assert.equal(window.find('twice'), again, 'the newer answers');
  window = window.remember(command(4), 4, 3);
  assert.deepEqual(
    [...window].map((r) => r.commandId),
    ['c2', 'twice', 'c4'],
  );
  assert.equal(window.find('twice'), again, 'still found once the older copy has left');
  window = window.remember(command(5), 5, 3).remember(command(6), 6, 3);
  assert.equal(window.find('twice'), undefined, 'forgotten with its last copy');
  assert.equal(window.index.size, 3);
});
