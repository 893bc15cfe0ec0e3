// The node's outbox: records to persist, and messages, applies and answers, some of which wait for
// a record to be durable. This is where "persist before send" is enforced, in one place: an item
// gated on lsn L leaves only after persisted(L) (a YES vote after its PREPARED, a COMMIT after the
// coordinator's COMMIT record, an apply and ACK after the participant's COMMIT record).
// Invariant: gated items leave in the order they were queued, so applies keep their room order.

import type {
  ClientAnswer,
  CommittedEntry,
  LogRecord,
  Message,
  NodeId,
  Output,
  PersistRequest,
} from './types.ts';

type Item =
  | { readonly kind: 'message'; readonly message: Message }
  | { readonly kind: 'apply'; readonly entry: CommittedEntry }
  | { readonly kind: 'answer'; readonly answer: ClientAnswer };

export class Outbox {
  private readonly self: NodeId;
  private readonly deliverLocal: (message: Message) => void;
  private nextLsn: number;
  private persistedLsn: number;
  private persist: PersistRequest[] = [];
  private messages: Message[] = [];
  private apply: CommittedEntry[] = [];
  private answers: ClientAnswer[] = [];
  private readonly gated: { readonly afterLsn: number; readonly item: Item }[] = [];

  /**
   * @param self this node, whose messages to itself go to `deliverLocal` instead of the network
   * @param lastLsn the lsn of the last record already durable (0 for an empty log)
   */
  constructor(self: NodeId, lastLsn: number, deliverLocal: (message: Message) => void) {
    this.self = self;
    this.deliverLocal = deliverLocal;
    this.nextLsn = lastLsn + 1;
    this.persistedLsn = lastLsn;
  }

  /** Queues a record; returns its lsn, to gate what depends on it. */
  append(record: LogRecord, force: boolean): number {
    const lsn = this.nextLsn++;
    this.persist.push({ lsn, record, force });
    return lsn;
  }

  get durableLsn(): number {
    return this.persistedLsn;
  }

  /** Lsn of the last record appended. */
  get lastLsn(): number {
    return this.nextLsn - 1;
  }

  /** Nothing waits: no record or item not yet taken, nothing gated on a record. */
  get idle(): boolean {
    return (
      this.gated.length === 0 &&
      this.persist.length === 0 &&
      this.messages.length === 0 &&
      this.apply.length === 0 &&
      this.answers.length === 0
    );
  }

  send(message: Message, afterLsn = 0): void {
    this.queue({ kind: 'message', message }, afterLsn);
  }

  applyEntry(entry: CommittedEntry, afterLsn: number): void {
    this.queue({ kind: 'apply', entry }, afterLsn);
  }

  answer(answer: ClientAnswer, afterLsn = 0): void {
    this.queue({ kind: 'answer', answer }, afterLsn);
  }

  /** The store reports every record up to lsn durable: release what waited for them. */
  persisted(lsn: number): void {
    if (lsn <= this.persistedLsn) return;
    this.persistedLsn = Math.min(lsn, this.nextLsn - 1);
    while (this.gated.length > 0 && this.gated[0]!.afterLsn <= this.persistedLsn) {
      this.release(this.gated.shift()!.item);
    }
  }

  take(): Output {
    const out: Output = {
      persist: this.persist,
      messages: this.messages,
      apply: this.apply,
      answers: this.answers,
    };
    this.persist = [];
    this.messages = [];
    this.apply = [];
    this.answers = [];
    return out;
  }

  private queue(item: Item, afterLsn: number): void {
    // Behind a gated item even an ungated one waits, so the order stays the queue order.
    if (afterLsn <= this.persistedLsn && this.gated.length === 0) this.release(item);
    else this.gated.push({ afterLsn: Math.max(afterLsn, this.persistedLsn), item });
  }

  private release(item: Item): void {
    if (item.kind === 'apply') this.apply.push(item.entry);
    else if (item.kind === 'answer') this.answers.push(item.answer);
    else if (item.message.to === this.self) this.deliverLocal(item.message);
    else this.messages.push(item.message);
  }
}
