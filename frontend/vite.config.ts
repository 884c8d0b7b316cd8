import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

// The API reference page (/api/docs, served by the Go server) renders the
// OpenAPI document with Redoc's prebuilt standalone bundle, shipped as a static
// asset of this build next to public/api-docs/reference.js.
function apiReference(): Plugin {
  const bundles = fileURLToPath(new URL('./node_modules/redoc/bundles/', import.meta.url));
  return {
    name: 'teamchat-api-reference',
    apply: 'build',
    generateBundle() {
      for (const name of ['redoc.standalone.js', 'redoc.standalone.js.LICENSE.txt']) {
        this.emitFile({ type: 'asset', fileName: `api-docs/${name}`, source: readFileSync(bundles + name) });
      }
    },
  };
}

// The built client is embedded in the Go binary (frontend/embed_dist.go);
// everything it needs (fonts, CSS, scripts) is bundled here: no CDN, ever.
export default defineConfig({
  plugins: [svelte(), apiReference()],
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
