// useLive wires a page to the "one REST load, then events" rule:
//
//  1. register the page's event handlers (events arriving before the load
//     has finished are queued);
//  2. wait until the page's channels are subscribed (bounded), so that no
//     event falls between the REST answer and the subscription;
//  3. load once over REST, then apply the queued events on top (updates are
//     absolute and keyed, so replaying one the load already reflected is
//     harmless);
//  4. on a seq gap in one of the page's channels, load again: once, however
//     many gaps arrive while that reload runs.
//
// Nothing here runs on a timer.

import { onMounted, onUnmounted, ref } from 'vue'
import * as realtime from './realtime.js'

/**
 * @param {object} o
 * @param {string[]} o.channels channel suffixes (see realtime.TENANT_CHANNELS, SYSTEM_CHANNEL)
 * @param {() => Promise<void>} o.load the page's REST load
 * @param {(channel: string, event: string, data: any) => void} o.handle applies one event
 */
export function useLive({ channels, load, handle }) {
  const loading = ref(true)
  const loaded = ref(false) // the first load has finished (even if it failed)
  const error = ref(null)
  const reloads = ref(0)
  let queue = []
  let busy = false
  let again = false
  let alive = true
  const offs = []

  async function run() {
    if (busy) {
      again = true
      return
    }
    busy = true
    loading.value = true
    queue = []
    try {
      do {
        again = false
        error.value = null
        try {
          await load()
        } catch (err) {
          error.value = err
        }
      } while (again && alive)
      const pending = queue
      queue = null
      for (const [c, e, d] of pending) handle(c, e, d)
    } finally {
      busy = false
      loading.value = false
      loaded.value = true
    }
  }

  for (const c of channels) {
    offs.push(
      realtime.on(c, (event, data) => {
        if (queue) queue.push([c, event, data])
        else handle(c, event, data)
      }),
    )
    offs.push(
      realtime.onGap(c, () => {
        reloads.value++
        run()
      }),
    )
  }

  onMounted(async () => {
    await realtime.whenSubscribed(channels)
    if (alive) await run()
  })
  onUnmounted(() => {
    alive = false
    for (const off of offs) off()
  })

  return { loading, loaded, error, reloads, reload: run }
}
