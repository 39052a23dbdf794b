// useLive wires a page to the "one REST load, then events" rule (see
// lib/live.js for the rule itself):
//
//  1. register the page's event handlers (events arriving before the load
//     has finished are buffered);
//  2. wait until the page's channels are subscribed (bounded), so that no
//     event falls between the REST answer and the subscription;
//  3. load once over REST, then apply the buffered events on top;
//  4. load again on a seq gap or epoch change in one of the page's channels,
//     and whenever one of them (re)subscribes after the first load began: a
//     late subscription, or one restored after a reconnect.
//
// Nothing here runs on a timer.

import { onMounted, onUnmounted, ref } from 'vue'
import * as realtime from './realtime.js'
import { LiveLoader } from './lib/live.js'

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
  const loader = new LiveLoader({
    load,
    handle,
    onState: (l) => {
      loading.value = l.loading
      loaded.value = l.loaded
      error.value = l.error
      reloads.value = l.reloads
    },
  })
  const offs = []
  for (const c of channels) {
    offs.push(realtime.on(c, (event, data) => loader.event(c, event, data)))
    offs.push(realtime.onGap(c, () => loader.gap()))
    offs.push(realtime.onSubscribed(c, () => loader.subscribed()))
  }

  onMounted(async () => {
    await realtime.whenSubscribed(channels)
    if (loader.alive) await loader.run()
  })
  onUnmounted(() => {
    loader.stop()
    for (const off of offs) off()
  })

  return { loading, loaded, error, reloads, reload: () => loader.run() }
}
