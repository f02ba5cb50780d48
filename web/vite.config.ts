/// <reference types="vitest/config" />
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

// The font package ships eot/ttf/woff/woff2; every browser we support reads woff2, so each
// @font-face of @fontsource keeps only its woff2 source.
function woff2Only(): Plugin {
  return {
    name: 'woff2-only',
    enforce: 'pre',
    transform(code, id) {
      const file = id.split('?')[0] ?? '';
      if (!file.endsWith('.css') || !/node_modules\/@fontsource\//.test(file)) return null;
      return code.replace(/@font-face\s*{[^}]*}/g, (block) => {
        const woff2 = /url\(([^)]*\.woff2[^)]*)\)/.exec(block);
        if (!woff2) return block;
        const rest = block.replace(/src:[^;]*;/g, '').replace(/}\s*$/, '');
        const display = /font-display/.test(rest) ? '' : '  font-display: swap;\n';
        return `${rest}  src: url(${woff2[1]}) format("woff2");\n${display}}`;
      });
    },
  };
}

const COMPRESSIBLE = /\.(html|js|css|svg|json|map|txt)$/;

/**
 * Writes a `.br` (brotli, quality 11) and a `.gz` (gzip -9) sibling next to every compressible
 * file of the build, so the server can send them as they are (Content-Encoding) without
 * compressing on each request. A sibling is only kept when it is smaller than the file.
 */
function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'precompress',
    apply: 'build',
    configResolved(c) {
      outDir = c.build.outDir.startsWith('/') ? c.build.outDir : join(c.root, c.build.outDir);
    },
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((n) => {
          const p = join(dir, n);
          return statSync(p).isDirectory() ? walk(p) : [p];
        });
      for (const file of walk(outDir)) {
        if (!COMPRESSIBLE.test(file)) continue;
        const data = readFileSync(file);
        const br = brotliCompressSync(data, {
          params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: data.length },
        });
        const gz = gzipSync(data, { level: 9 });
        if (br.length < data.length) writeFileSync(`${file}.br`, br);
        if (gz.length < data.length) writeFileSync(`${file}.gz`, gz);
      }
    },
  };
}

// The dev server (npm run dev) forwards the API to `npm run dev-server` or a running `bank run`.
const api = process.env.BANK_API ?? 'http://127.0.0.1:8888';

export default defineConfig({
  plugins: [woff2Only(), precompress()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // Every asset is a file with a content hash in its name (cacheable for a year); nothing is
    // inlined as a data: URL, so a strict Content-Security-Policy (img-src 'self') holds.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  css: {
    preprocessorOptions: {
      scss: { silenceDeprecations: ['import', 'global-builtin', 'color-functions', 'slash-div', 'if-function'] },
    },
  },
  server: {
    proxy: {
      '/api': api,
      '/graphql': api,
      '/healthz': api,
      '/ws': { target: api.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
