import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The placeholder that keeps dist/ in git (see web.go's go:embed). Vite
// empties dist/ before writing, so the build writes it back, byte for byte
// the committed file, and `git status` stays clean after a build.
const KEEP =
  'Placeholder so that go:embed finds this directory before the dashboard is built.\n' +
  'Run `npm ci && npm run build` here (or `make web`) to fill it.\n'

function keepPlaceholder() {
  return {
    name: 'sitepulse-keep-placeholder',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: '.keep', source: KEEP })
    },
  }
}

// In development, `npm run dev` proxies the API and the Pusher WebSocket to a
// running control plane (SITEPULSE_URL, default http://127.0.0.1:8080).
const target = process.env.SITEPULSE_URL || 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue(), keepPlaceholder()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      '/api': { target, changeOrigin: false },
      '/app': { target, ws: true, changeOrigin: false },
    },
  },
  preview: {
    proxy: {
      '/api': { target, changeOrigin: false },
      '/app': { target, ws: true, changeOrigin: false },
    },
  },
})
