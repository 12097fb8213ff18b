// The copy of a workflow a view shows, fed by two sources: the watch (every change, in order)
// and the answer of an action the user clicked (the workflow as it stood when the server
// handled the action). The two travel separately, so an answer can arrive after events that
// are newer than it: `terminate` answers "Running" while the step is being stopped, and a step
// that ends within milliseconds has its "Failed" on the watch first; showing the answer then
// would leave the view Running for good, as nothing follows a finished workflow to correct it.
// So an answer is shown only when no event came while its action was on the way; otherwise the
// watch, which carries every change, already has it or will.
// Watch updates can also come many times a second: the latest is applied at most every
// `throttleMs`.
export class Latest {
  constructor(apply, throttleMs) {
    this.apply = apply;            // (workflow) => shown (may return a promise)
    this.throttleMs = throttleMs;
    this.pending = null;
    this.timer = 0;
    this.lastApplied = 0;
    this.events = 0;
    this.closed = false;
  }

  // Show `obj` now (the first GET).
  now(obj) {
    this.lastApplied = performance.now();
    return this.apply(obj);
  }

  // A watch event's object.
  event(obj) {
    this.events += 1;
    this.offer(obj);
  }

  // Before sending an action: a mark for `answer`.
  begin() {
    return this.events;
  }

  // The action's answer, shown unless the watch delivered something since `begin`.
  answer(mark, obj) {
    if (obj?.metadata && this.events === mark) this.offer(obj);
  }

  offer(obj) {
    this.pending = obj;
    if (this.timer || this.closed) return;
    const wait = Math.max(0, this.throttleMs - (performance.now() - this.lastApplied));
    this.timer = setTimeout(() => {
      this.timer = 0;
      const o = this.pending;
      this.pending = null;
      if (o && !this.closed) this.now(o);
    }, wait);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
