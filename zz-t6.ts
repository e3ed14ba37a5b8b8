import { loadConfig } from './src/config/load-config.ts';
import { readFileSync } from 'node:fs';
for (const f of process.argv.slice(2)) {
  const env: Record<string,string> = {};
  for (const m of readFileSync(f, 'utf8').matchAll(/^# env: ([A-Z_]+)=(.*)$/gm)) env[m[1]!] = m[2]!;
  try { await loadConfig(f, env); console.log(f, 'LOADED!'); } catch (e: any) { console.log(e.message); }
}
