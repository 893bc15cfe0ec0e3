// Loaded before each integration test file (`--import`, package.json's test:integration). The
// files run with --test-force-exit, so a file that leaves a server, socket, child process or timer
// open cannot hang CI, but without more it would pass: the leak would go unseen. So the runner's
// exit at the end of a file's tests is held until what its tests opened has closed (up to
// GRACE_MS: a socket still closing, ioredis's 2 s timer after a refused connection), and a file
// that leaves anything open past that fails, naming what is open.

const GRACE_MS = 5_000;
/** The runner's own streams to its parent. */
const STDIO = new Set(['PipeWrap', 'TTYWrap']);

/** What is open besides the runner's streams; `polling`: one timer is this check's own. */
function leftOpen(polling: boolean): string[] {
  const left = process.getActiveResourcesInfo().filter((r) => !STDIO.has(r));
  const own = polling ? left.indexOf('Timeout') : -1;
  if (own >= 0) left.splice(own, 1);
  return left;
}

/** What process._getActiveHandles() (Node's own diagnostic, untyped) gives, as far as read here. */
interface OpenHandle {
  readonly constructor?: { readonly name?: string };
  readonly pid?: number;
  readonly spawnargs?: readonly string[];
  readonly listening?: boolean;
  readonly address?: () => unknown;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

/** The open handles, described: a server's address, a socket's ends, a child's pid and command. */
function describeHandles(): string[] {
  const handles =
    (process as unknown as { _getActiveHandles?: () => OpenHandle[] })._getActiveHandles?.() ?? [];
  return handles.flatMap((h) => {
    const kind = h.constructor?.name ?? 'handle';
    if (typeof h.pid === 'number')
      return [`${kind} ${h.pid} (${(h.spawnargs ?? []).join(' ').slice(0, 120)})`];
    if (typeof h.listening === 'boolean') return [`${kind} listening ${JSON.stringify(h.address?.())}`];
    if (h.remotePort !== undefined || h.localPort !== undefined)
      return [`${kind} ${h.localAddress}:${h.localPort} -> ${h.remoteAddress}:${h.remotePort}`];
    return [];
  });
}

const exit = process.exit.bind(process);
let held = false;
process.exit = ((code?: number | string | null) => {
  if (held) return exit(code);
  held = true;
  const deadline = Date.now() + GRACE_MS;
  const check = (polling: boolean): void => {
    const left = leftOpen(polling);
    if (left.length === 0) return exit(code);
    if (Date.now() < deadline) {
      setTimeout(() => check(true), 50);
      return;
    }
    const detail = describeHandles();
    process.stderr.write(
      `leak check: still open ${GRACE_MS} ms after this file's tests ended: ${left.join(', ')}` +
        (detail.length > 0 ? `\n  ${detail.join('\n  ')}` : '') +
        '\n',
    );
    exit(1);
  };
  check(false);
}) as typeof process.exit;
