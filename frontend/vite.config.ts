import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The built client is embedded in the Go binary (frontend/embed_dist.go);
// everything it needs (fonts, CSS, scripts) is bundled here: no CDN, ever.
export default defineConfig({
  plugins: [svelte()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run dev` proxies the API to a local `teamchat serve --addr 127.0.0.1:8080 --no-mdns`.
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true },
      '/healthz': 'http://127.0.0.1:8080',
    },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'jsdom',
  },
});
