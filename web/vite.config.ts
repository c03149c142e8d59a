import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The UI is static files under /ui/ of `vigil serve`; it talks only to the server's HTTP API.
export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 8000, sourcemap: false },
});
