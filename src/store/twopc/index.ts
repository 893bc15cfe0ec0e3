// The two-phase-commit core's public face: the pure node and its vocabulary. The store (disk log,
// gRPC transport) is built around TwoPcNode following the contract in node.ts.

export { TwoPcNode } from './node.ts';
export * from './types.ts';
