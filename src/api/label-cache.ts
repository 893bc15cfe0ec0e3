// A metric's children by label values, looked up once: prom-client's `labels()` validates and hashes
// the values on every call, which every request and every gRPC call would pay. Keys are few (route or
// method x status); the cap only guards against a caller that makes up label values.

const KEPT = 10_000;

export class LabelCache<T> {
  private readonly children = new Map<string, T>();

  /** The child for `key`, made by `make` the first time. */
  get(key: string, make: () => T): T {
    let child = this.children.get(key);
    if (child === undefined) {
      if (this.children.size >= KEPT) this.children.clear();
      child = make();
      this.children.set(key, child);
    }
    return child;
  }
}
