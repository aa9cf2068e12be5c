import { defineConfig } from 'vite';

// The gateway (services/web) serves dist/ at / and falls back to index.html for
// unknown non-API paths; hashed files under /assets/ can be cached forever.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev` against a running gateway or the e2e dev server.
    proxy: { '/api': process.env.VALERIX_API ?? 'http://127.0.0.1:8080' },
  },
});
