import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router.js'
import { boot, setLoggedOutHandler } from './state.js'
import './style.css'

setLoggedOutHandler(() => {
  const here = router.currentRoute.value
  if (!here.meta.public) router.replace({ name: 'login', query: { redirect: here.fullPath } })
})

// Check a saved token before the first navigation so that guards know who
// is logged in.
boot().then(() => {
  createApp(App).use(router).mount('#app')
})
