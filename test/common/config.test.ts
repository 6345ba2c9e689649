import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/config.js';
import { OPTIONS, loadConfig } from '../../cli/config.js';
import { logger, registerSecret, setLogSink } from '../../common/log.js';
import { optionsTable, sampleConfig } from '../../cli/config-docs.js';

const root = new URL('../../', import.meta.url).pathname;

describe('config', () => {
  it('takes the environment over the file over the default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-config-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ influx: { db: 'from-file' }, collector: { sampleHz: 50 } }));
    const c = loadConfig({ WATTSCOPE_CONFIG: file, WATTSCOPE_SAMPLE_HZ: '100' });
    expect(c.influx.db).toBe('from-file');
    expect(c.collector.sampleHz).toBe(100);
    expect(c.api.port).toBe(8080);
  });

  it('says which option is wrong and why', () => {
    expect(() => loadConfig({ HOME: '/nonexistent', WATTSCOPE_API_PORT: 'eighty' })).toThrow(/WATTSCOPE_API_PORT: must be a number/);
    expect(() => loadConfig({ HOME: '/nonexistent', WATTSCOPE_SAMPLE_HZ: '0' })).toThrow(/WATTSCOPE_SAMPLE_HZ: must be ≥ 0.1/);
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-config-'));
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ collector: { sampleHZ: 5 } }));
    expect(() => loadConfig({ WATTSCOPE_CONFIG: join(dir, 'c.json') })).toThrow(/unknown option "collector.sampleHZ"/);
    expect(() => loadConfig({ WATTSCOPE_CONFIG: join(dir, 'missing.json') })).toThrow(ConfigError);
  });

  it('is documented exactly as generated from the options table (npm run docs:config)', () => {
    expect(readFileSync(join(root, 'docs/CONFIGURATION.md'), 'utf8')).toContain(optionsTable());
    expect(readFileSync(join(root, 'collector/sample-config.json'), 'utf8')).toBe(sampleConfig());
  });

  it('is documented option by option, and the sample config lists every option with its default', () => {
    const docs = readFileSync(join(root, 'docs/CONFIGURATION.md'), 'utf8');
    const sample = JSON.parse(readFileSync(join(root, 'collector/sample-config.json'), 'utf8')) as Record<string, unknown>;
    const lookup = (key: string) => key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], sample);
    for (const o of OPTIONS) {
      expect(docs, o.env).toContain(`| \`${o.env}\` | \`${o.key}\` |`);
      const v = lookup(o.key);
      if (v === '') {
        // left empty in the sample only where the default is unset, empty or this machine's own
        expect(o.default === undefined || o.default === '' || o.key === 'host' || o.key === 'collector.spoolDir', `${o.key} is empty in the sample, default ${JSON.stringify(o.default)}`).toBe(true);
        continue;
      }
      expect(v, o.key).toEqual(o.default);
    }
    // and the sample loads as a config
    expect(() => loadConfig({ WATTSCOPE_CONFIG: join(root, 'collector/sample-config.json') })).not.toThrow();
  });

  it('never logs a secret', () => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    try {
      registerSecret('tok-abcdef-123');
      logger('t').warn('request failed with tok-abcdef-123 in it', { token: 'whatever', authorization: 'Bearer x', url: 'http://h?k=tok-abcdef-123' });
    } finally {
      setLogSink((l) => process.stderr.write(l + '\n'));
    }
    expect(lines.join('\n')).not.toContain('tok-abcdef-123');
    expect(lines.join('\n')).not.toContain('Bearer x');
    expect(lines[0]).toMatch(/token=\*\*\* authorization=\*\*\*/);
  });
});
