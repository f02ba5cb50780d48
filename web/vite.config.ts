/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite';

// The font packages ship eot/ttf/woff/woff2; every browser we support reads woff2, so each
// @font-face of those packages keeps only its woff2 source (saves ~3 MB of output).
function woff2Only(): Plugin {
  return {
    name: 'woff2-only',
    enforce: 'pre',
    transform(code, id) {
      const file = id.split('?')[0] ?? '';
      if (!file.endsWith('.css') || !/node_modules\/(@mdi\/font|@fontsource)\//.test(file)) return null;
      return code.replace(/@font-face\s*{[^}]*}/g, (block) => {
        const woff2 = /url\(([^)]*\.woff2[^)]*)\)/.exec(block);
        if (!woff2) return block;
        const rest = block.replace(/src:[^;]*;/g, '').replace(/}\s*$/, '');
        const display = /font-display/.test(rest) ? '' : '  font-display: block;\n';
        return `${rest}  src: url(${woff2[1]}) format("woff2");\n${display}}`;
      });
    },
  };
}

// The dev server (npm run dev) forwards the API to `npm run dev-server` or a running `bank run`.
const api = process.env.BANK_API ?? 'http://127.0.0.1:8888';

export default defineConfig({
  plugins: [woff2Only()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1000, rolldownOptions: { checks: { pluginTimings: false } } },
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
