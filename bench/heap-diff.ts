// What a node's heap holds more in one snapshot than in another, per unit (for example per idle
// subscriber added between two snapshots of `bench/node-scale.ts --heap-snapshots DIR`): the V8
// heap objects grouped by kind and constructor (closures by function name, strings, arrays, ...),
// their count and self size, the difference divided by `--per`. Self sizes only: it says what each
// subscriber's objects are and weigh, not which of them keeps which alive. Native memory (socket
// and HTTP/2 session buffers, nghttp2's stream state) is not in a heap snapshot: the RSS figure of
// node-scale covers it.
//
//   npx node bench/heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--per 2000] [--top 40]

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface Snapshot {
  readonly snapshot: { readonly meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  readonly nodes: number[];
  readonly strings: string[];
}

interface Group {
  count: number;
  bytes: number;
}

/** Heap objects by `kind name`, with their count and self size. */
export function groups(snapshot: Snapshot): Map<string, Group> {
  const fields = snapshot.snapshot.meta.node_fields;
  const kinds = snapshot.snapshot.meta.node_types[0];
  const stride = fields.length;
  const type = fields.indexOf('type');
  const name = fields.indexOf('name');
  const size = fields.indexOf('self_size');
  const out = new Map<string, Group>();
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const kind = kinds[snapshot.nodes[i + type]!] ?? '?';
    // Strings and numbers are grouped by kind only (their name is their content).
    const label = ['string', 'concatenated string', 'sliced string', 'number', 'heap number'].includes(kind)
      ? kind
      : `${kind} ${snapshot.strings[snapshot.nodes[i + name]!] ?? '?'}`;
    const group = out.get(label) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += snapshot.nodes[i + size]!;
    out.set(label, group);
  }
  return out;
}

export function diff(
  before: Map<string, Group>,
  after: Map<string, Group>,
  per: number,
  top: number,
): string {
  const rows: [string, number, number][] = [];
  let total = 0;
  for (const [label, a] of after) {
    const b = before.get(label) ?? { count: 0, bytes: 0 };
    const bytes = a.bytes - b.bytes;
    total += bytes;
    rows.push([label, (a.count - b.count) / per, bytes / per]);
  }
  for (const [label, b] of before) if (!after.has(label)) total -= b.bytes;
  rows.sort((x, y) => y[2] - x[2]);
  const lines = [`heap self size added: ${(total / per).toFixed(0)} B per unit (${per} units)`, ''];
  lines.push('     B/unit   objects/unit  kind and name');
  for (const [label, count, bytes] of rows.slice(0, top)) {
    lines.push(`${bytes.toFixed(1).padStart(11)}  ${count.toFixed(2).padStart(13)}  ${label.slice(0, 100)}`);
  }
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('heap-diff.ts')) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { per: { type: 'string', default: '1' }, top: { type: 'string', default: '40' } },
  });
  const [beforeFile, afterFile] = positionals;
  if (beforeFile === undefined || afterFile === undefined) {
    throw new Error('usage: heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top N]');
  }
  const load = async (file: string) => groups(JSON.parse(await readFile(file, 'utf8')) as Snapshot);
  const [before, after] = [await load(beforeFile), await load(afterFile)];
  process.stdout.write(`${diff(before, after, Number(values.per), Number(values.top))}\n`);
}
