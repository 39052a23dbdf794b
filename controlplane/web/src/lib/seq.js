// Per-channel sequence tracking. Every event the control plane broadcasts
// carries its channel's `seq`, incremented by one per event. A jump means
// the dashboard missed events (a dropped WebSocket, a slow-consumer
// disconnect) and must reload the current page's data once; the REST load is
// the only other source of truth.
//
// Events also carry the `epoch` of the control-plane process that numbered
// them. Another replica (or the same one after a restart) numbers from its
// own counter, which may by chance continue where the old one stopped, so a
// changed epoch is a reset whatever the seq says.

/** Results of SeqTracker.observe. */
export const SEQ_FIRST = 'first' // no earlier event on this channel: nothing to compare
export const SEQ_OK = 'ok' // exactly the next one
export const SEQ_GAP = 'gap' // at least one event was missed
export const SEQ_RESET = 'reset' // the counter went back or the epoch changed: another process numbers now; events may be lost
export const SEQ_NONE = 'none' // the event carries no seq

/** Reports whether an observe result means the page must reload. */
export function needsReload(result) {
  return result === SEQ_GAP || result === SEQ_RESET
}

/** Reads the seq of an event's data, or null when it has none. */
export function seqOf(data) {
  if (!data || typeof data !== 'object') return null
  const v = data.seq
  if (v === null || v === undefined || v === '') return null
  const n = typeof v === 'number' ? v : Number(v)
  return Number.isFinite(n) ? n : null
}

/** Reads the epoch of an event's data, or null when it has none. */
export function epochOf(data) {
  if (!data || typeof data !== 'object') return null
  const v = data.epoch
  return typeof v === 'string' && v !== '' ? v : null
}

/**
 * Remembers the last seq (and epoch) seen on each channel. The baseline survives
 * reconnects on purpose: a reconnect is exactly when events are lost, and the
 * next event's seq then shows it.
 */
export class SeqTracker {
  constructor() {
    this.last = new Map()
    this.epochs = new Map()
  }

  /** Classifies an event's seq on a channel and records it. */
  observe(channel, data) {
    const seq = seqOf(data)
    if (seq === null) return SEQ_NONE
    const prev = this.last.get(channel)
    const epoch = epochOf(data)
    const prevEpoch = this.epochs.get(channel)
    this.last.set(channel, seq)
    this.epochs.set(channel, epoch)
    if (prev === undefined) return SEQ_FIRST
    if (epoch !== prevEpoch) return SEQ_RESET
    if (seq === prev + 1) return SEQ_OK
    if (seq > prev + 1) return SEQ_GAP
    return SEQ_RESET
  }

  /** Forgets a channel (after leaving it, e.g. on a tenant switch). */
  forget(channel) {
    this.last.delete(channel)
    this.epochs.delete(channel)
  }
}
