// The two figures of the earlier report, redrawn from measured data: throughput vs nodes and
// latency percentiles vs nodes, REST and gRPC lines. Vega-Lite -> SVG (no browser) -> PNG (resvg).

import { Resvg } from '@resvg/resvg-js';
import { writeFile } from 'node:fs/promises';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface ExperimentPoint {
  readonly api: 'REST' | 'gRPC';
  readonly nodes: number;
  readonly throughput: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/** Renders a Vega-Lite spec to a PNG file (also used by the fault harness's timeline). */
export async function render(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { background: 'white', fitTo: { mode: 'width', value: 1200 } }).render().asPng();
  await writeFile(file, png);
}

export async function renderFigures(points: readonly ExperimentPoint[], base: string): Promise<string[]> {
  const throughputFile = `${base}-throughput.png`;
  const latencyFile = `${base}-latency.png`;
  const common = { width: 520, height: 300, config: { font: 'DejaVu Sans' } } as const;
  await render(
    {
      ...common,
      title: 'Add-track throughput vs nodes (20 clients, 200 requests, mean of trials)',
      data: { values: points.map((p) => ({ ...p })) },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'nodes', type: 'quantitative', title: 'nodes', scale: { domain: [0, 11] } },
        y: { field: 'throughput', type: 'quantitative', title: 'requests per second', aggregate: 'mean' },
        color: { field: 'api', type: 'nominal', title: 'API' },
      },
    },
    throughputFile,
  );
  const long = points.flatMap((p) =>
    (['p50', 'p90', 'p99'] as const).map((q) => ({
      api: p.api,
      nodes: p.nodes,
      percentile: q,
      ms: p[q],
      series: `${p.api} ${q}`,
    })),
  );
  await render(
    {
      ...common,
      title: 'Add-track latency percentiles vs nodes (per-request timing)',
      data: { values: long },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'nodes', type: 'quantitative', title: 'nodes', scale: { domain: [0, 11] } },
        y: { field: 'ms', type: 'quantitative', title: 'latency (ms)', aggregate: 'mean' },
        color: { field: 'api', type: 'nominal', title: 'API' },
        strokeDash: { field: 'percentile', type: 'nominal', title: 'percentile' },
        detail: { field: 'series', type: 'nominal' },
      },
    },
    latencyFile,
  );
  return [throughputFile, latencyFile];
}
