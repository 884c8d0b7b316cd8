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
      // The bundle's side-menu footer loads Redocly's logo from their CDN; an
      // offline classroom page loads nothing from elsewhere (the CSP would block
      // it anyway), so the logo becomes an empty data: URL, which Redoc hides.
      const cdnLogo = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
      const js = readFileSync(bundles + 'redoc.standalone.js', 'utf8');
      if (!js.includes(cdnLogo)) this.error(`redoc.standalone.js no longer has ${cdnLogo}: check it for other CDN loads`);
      this.emitFile({ type: 'asset', fileName: 'api-docs/redoc.standalone.js', source: js.replaceAll(cdnLogo, 'data:,') });
      this.emitFile({
        type: 'asset',
        fileName: 'api-docs/redoc.standalone.js.LICENSE.txt',
        source: readFileSync(bundles + 'redoc.standalone.js.LICENSE.txt'),
      });
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
