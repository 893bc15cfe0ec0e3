// What a store reports for Prometheus, without importing it. A store declares its metrics once, as
// data (`MetricSpec`s in its registry entry), and reports through `StoreTelemetry`; the node
// (src/node/metrics.ts) turns the specs into prom-client metrics on its own registry and hands the
// store a telemetry that feeds them. Stores stay free of the metrics library, tests can pass
// NO_TELEMETRY, and a name that was not declared is a programming error caught at the first report.

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  /** Full Prometheus name, `chorus_<store>_…` (`_total` for counters, a unit suffix for the rest). */
  readonly name: string;
  readonly help: string;
  readonly kind: MetricKind;
  readonly labels?: readonly string[];
  /** Histograms only; prom-client's defaults otherwise. */
  readonly buckets?: readonly number[];
}

export type MetricLabels = Readonly<Record<string, string>>;

export interface StoreTelemetry {
  /** Adds `by` (default 1) to a counter. */
  count(name: string, labels?: MetricLabels, by?: number): void;
  /** Sets a gauge. */
  set(name: string, value: number, labels?: MetricLabels): void;
  /** Records one observation of a histogram (seconds, bytes, entries). */
  observe(name: string, value: number, labels?: MetricLabels): void;
}

/** For stores opened without a node (tests, tools): every report is dropped. */
export const NO_TELEMETRY: StoreTelemetry = {
  count: () => {},
  set: () => {},
  observe: () => {},
};
