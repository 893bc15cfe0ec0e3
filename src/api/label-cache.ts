// A metric's children by label values, looked up once: prom-client's `labels()` validates and hashes
// the values on every call, which every request and every gRPC call would pay. Keys are few (route or
// method x status); the cap only guards against a caller that makes up label values. Keys are the
// label values themselves (a string, a status number), never a string built per request: several
// labels nest one cache in another (building `${method} ${route} ${status}` cost more than labels()).

const KEPT = 10_000;

export class LabelCache<T, K extends string | number = string> {
  private readonly children = new Map<K, T>();

  /** The child for `key`, made by `make` the first time. */
  get(key: K, make: () => T): T {
    let child = this.children.get(key);
    if (child === undefined) {
      if (this.children.size >= KEPT) this.children.clear();
      child = make();
      this.children.set(key, child);
    }
    return child;
  }
}
