// Named failpoints, for tests only (as etcd's gofail): a test starts a real process with
// CHORUS_FAILPOINTS=name=action[,name=action…] and the process crashes at exactly that point of
// the code, which no timing of an outside SIGKILL can hit reliably. Read once, when a store opens;
// unset (the only production setting) every hit is a no-op costing one map lookup.
//
// Invariants: only the names in FAILPOINTS exist, and an unknown name or action refuses to start
// (a typo must not turn a crash test into one that silently crashes nothing); `kill` is SIGKILL
// of this very process, so nothing after the point runs: no flush, no exit handler, no message.

/** Every failpoint, with where it sits. */
export const FAILPOINTS = {
  'twopc-after-prepared':
    'a 2PC participant has fsynced a PREPARED record for a transaction another node coordinates, and has not voted yet',
  'twopc-after-commit-record':
    'a 2PC coordinator has fsynced its COMMIT decision, and has not sent it to anyone yet',
} as const;

export type FailpointName = keyof typeof FAILPOINTS;

/** What a failpoint does when hit: `kill` SIGKILLs the process the first time. */
export type FailpointAction = 'kill';

export const FAILPOINTS_ENV = 'CHORUS_FAILPOINTS';

export class Failpoints {
  private readonly armed: ReadonlyMap<FailpointName, FailpointAction>;

  private constructor(armed: ReadonlyMap<FailpointName, FailpointAction>) {
    this.armed = armed;
  }

  static readonly NONE = new Failpoints(new Map());

  /** Parses `name=action,…`; throws on an unknown name or action. Empty or unset: none. */
  static parse(spec: string | undefined): Failpoints {
    if (spec === undefined || spec.trim() === '') return Failpoints.NONE;
    const armed = new Map<FailpointName, FailpointAction>();
    for (const part of spec.split(',')) {
      const [name = '', action = ''] = part.trim().split('=');
      if (!Object.hasOwn(FAILPOINTS, name)) {
        throw new Error(
          `${FAILPOINTS_ENV}: no failpoint named "${name}" (there are ${Object.keys(FAILPOINTS).join(', ')})`,
        );
      }
      if (action !== 'kill') throw new Error(`${FAILPOINTS_ENV}: ${name}=${action}: the only action is kill`);
      armed.set(name as FailpointName, action);
    }
    return new Failpoints(armed);
  }

  /** The failpoints of this process's environment. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): Failpoints {
    return Failpoints.parse(env[FAILPOINTS_ENV]);
  }

  isArmed(name: FailpointName): boolean {
    return this.armed.has(name);
  }

  /** The point is reached: act if armed. */
  hit(name: FailpointName): void {
    if (this.armed.get(name) === 'kill') process.kill(process.pid, 'SIGKILL');
  }
}
