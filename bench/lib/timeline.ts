// The fault harness's timeline: one row per client, one bar per call from its invoke to its answer
// (an unknown call runs to the end of the run), coloured by outcome, with the fault windows shaded.

import type { TopLevelSpec } from 'vega-lite';
import type { FaultWindow, HistoryOp } from '../../src/verify/history.ts';
import { render } from './figures.ts';

export async function renderTimeline(
  ops: readonly HistoryOp[],
  faults: readonly FaultWindow[],
  file: string,
): Promise<void> {
  const t0 = Math.min(...ops.map((o) => o.invoke));
  const end = Math.max(...ops.map((o) => o.complete ?? o.invoke)) - t0;
  const calls = ops.map((o) => ({
    client: o.client,
    start: (o.invoke - t0) / 1000,
    end: Math.max((o.invoke - t0) / 1000 + 0.01, ((o.complete ?? end + t0) - t0) / 1000),
    outcome: o.kind === 'read' ? 'read' : o.outcome.status,
  }));
  const shaded = faults.map((f) => ({
    fault: `${f.kind} ${f.target}`,
    start: (f.start - t0) / 1000,
    end: (f.end - t0) / 1000,
  }));
  const spec: TopLevelSpec = {
    width: 1100,
    height: Math.max(200, new Set(calls.map((c) => c.client)).size * 14),
    layer: [
      {
        data: { values: shaded },
        mark: { type: 'rect', opacity: 0.25, color: '#d62728' },
        encoding: {
          x: { field: 'start', type: 'quantitative', title: 'seconds since the first call' },
          x2: { field: 'end' },
          tooltip: { field: 'fault' },
        },
      },
      {
        data: { values: calls },
        mark: { type: 'bar', height: 8 },
        encoding: {
          y: { field: 'client', type: 'nominal', title: null },
          x: { field: 'start', type: 'quantitative' },
          x2: { field: 'end' },
          color: {
            field: 'outcome',
            type: 'nominal',
            scale: {
              domain: ['ok', 'read', 'refused', 'failed', 'unknown'],
              range: ['#2ca02c', '#1f77b4', '#9467bd', '#ff7f0e', '#d62728'],
            },
          },
        },
      },
    ],
  };
  await render(spec, file);
}
