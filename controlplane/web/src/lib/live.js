// LiveLoader is the "one REST load, then events" rule of a page, without
// Vue or the socket (composables.js wires it; `npm test` exercises it):
//
//  - events that arrive while a load runs are buffered and applied on top
//    of its answer (updates carry updated_at, so one the load already
//    reflects is dropped by the tables);
//  - a seq gap or epoch change on one of the page's channels loads again;
//  - so does every (re)subscription after the first load began: a
//    subscription that was late (the first load gave up waiting for it) or
//    came back after a reconnect may have missed events the load could not
//    see, and a quiet channel would otherwise never show it;
//  - many triggers while a load runs cause one more load, not many.

export class LiveLoader {
  /**
   * @param {object} o
   * @param {() => Promise<void>} o.load the page's REST load
   * @param {(channel: string, event: string, data: any) => void} o.handle applies one event
   * @param {(state: object) => void} [o.onState] called when loading/loaded/error change
   */
  constructor({ load, handle, onState = () => {} }) {
    this.loadFn = load
    this.handleFn = handle
    this.onState = onState
    this.queue = []
    this.busy = false
    this.again = false
    this.alive = true
    this.started = false
    this.loading = false
    this.loaded = false
    this.error = null
    this.reloads = 0
  }

  /** An event of one of the page's channels. */
  event(channel, event, data) {
    if (!this.alive) return
    if (this.queue) this.queue.push([channel, event, data])
    else this.handleFn(channel, event, data)
  }

  /** A seq gap or an epoch change: reload. */
  gap() {
    if (!this.alive || !this.started) return
    this.reloads++
    return this.run()
  }

  /** A channel of the page (re)subscribed: reload if a load already began. */
  subscribed() {
    return this.gap()
  }

  /** Stops applying events and loading (the page unmounted). */
  stop() {
    this.alive = false
  }

  /** Loads (again); concurrent calls coalesce into one more load. */
  async run() {
    this.started = true
    if (this.busy) {
      this.again = true
      return
    }
    this.busy = true
    this.loading = true
    if (!this.queue) this.queue = []
    this.onState(this)
    try {
      do {
        this.again = false
        this.error = null
        // Buffer from here: events before this load started are in its
        // answer or superseded by it.
        this.queue = []
        try {
          await this.loadFn()
        } catch (err) {
          this.error = err
        }
      } while (this.again && this.alive)
      const pending = this.queue
      this.queue = null
      if (this.alive) for (const [c, e, d] of pending) this.handleFn(c, e, d)
    } finally {
      this.busy = false
      this.loading = false
      this.loaded = true
      this.onState(this)
    }
  }
}

/**
 * Reports whether a pusher-js state change is a reconnect: connected again
 * after the connection was lost (connecting or unavailable after a drop).
 */
export function reconnected(previous, current) {
  return current === 'connected' && (previous === 'connecting' || previous === 'unavailable')
}
