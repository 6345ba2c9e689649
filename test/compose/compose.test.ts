/**
 * docker-compose.yml: valid for Compose (checked by `docker-compose config`, which validates
 * against Compose's schema and interpolates without a Docker engine), secrets required from
 * .env and none committed, every path it mounts or builds present in the repo, every image
 * pinned to a release, and Grafana's release one that reads the dashboards' schema.
 */
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

function compose(args: string[], envFile?: string) {
  const r = spawnSync('docker-compose', [...(envFile ? ['--env-file', envFile] : []), ...args], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: tmpdir() } });
  if (r.error) throw new Error(`docker-compose is needed to validate docker-compose.yml: apt-get install -y docker-compose (${r.error.message})`);
  return r;
}

function filledEnv(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wattscope-compose-'));
  const file = join(dir, '.env');
  const text = readFileSync(join(ROOT, '.env.example'), 'utf8')
    .replace(/^INFLUXDB_ADMIN_PASSWORD=$/m, 'INFLUXDB_ADMIN_PASSWORD=test-password')
    .replace(/^WATTSCOPE_INFLUX_TOKEN=$/m, 'WATTSCOPE_INFLUX_TOKEN=test-token')
    .replace(/^GRAFANA_ADMIN_PASSWORD=$/m, 'GRAFANA_ADMIN_PASSWORD=test-grafana');
  writeFileSync(file, text);
  return file;
}

describe('docker-compose.yml', () => {
  it('is valid Compose, with and without the GPU override', () => {
    const env = filledEnv();
    for (const files of [['-f', 'docker-compose.yml'], ['-f', 'docker-compose.yml', '-f', 'docker-compose.gpu.yml']]) {
      const r = compose([...files, 'config'], env);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/influxdb:/);
    }
    const services = compose(['config', '--services'], env).stdout.trim().split('\n').sort();
    expect(services).toEqual(['api', 'collector', 'grafana', 'influxdb']);
    const gpu = compose(['-f', 'docker-compose.yml', '-f', 'docker-compose.gpu.yml', 'config'], env).stdout;
    expect(gpu).toMatch(/driver: nvidia/);
  });

  it('refuses to start without the secrets, and commits none', () => {
    const empty = join(mkdtempSync(join(tmpdir(), 'wattscope-compose-')), '.env');
    writeFileSync(empty, readFileSync(join(ROOT, '.env.example')));
    const r = compose(['config'], empty);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/set (INFLUXDB_ADMIN_PASSWORD|WATTSCOPE_INFLUX_TOKEN|GRAFANA_ADMIN_PASSWORD) in \.env/);
    const example = readFileSync(join(ROOT, '.env.example'), 'utf8');
    for (const key of ['INFLUXDB_ADMIN_PASSWORD', 'WATTSCOPE_INFLUX_TOKEN', 'GRAFANA_ADMIN_PASSWORD', 'WATTSCOPE_API_TOKEN']) {
      expect(example).toMatch(new RegExp(`^${key}=$`, 'm'));
    }
    expect(readFileSync(join(ROOT, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
    expect(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')).not.toMatch(/(TOKEN|PASSWORD):\s+(?!\$\{)\S/);
  });

  it('keeps the collector’s /metrics on loopback (it shares the host’s network)', () => {
    const config = compose(['config'], filledEnv()).stdout;
    const collector = config.slice(config.indexOf('\n  collector:'), config.indexOf('\n  grafana:'));
    expect(collector).toMatch(/network_mode: host/);
    expect(collector).not.toMatch(/WATTSCOPE_COLLECTOR_BIND/);
    // the image itself sets no bind address: the collector's default (127.0.0.1) holds
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const stage = dockerfile.slice(dockerfile.indexOf('AS collector'));
    expect(stage).not.toMatch(/WATTSCOPE_COLLECTOR_BIND=/);
    expect(readFileSync(join(ROOT, 'common/config.ts'), 'utf8')).toMatch(/key: 'collector\.bind', env: 'WATTSCOPE_COLLECTOR_BIND', kind: 'string', default: '127\.0\.0\.1'/);
  });

  it('mounts and builds only paths that exist in the repo', () => {
    const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const mounts = [...text.matchAll(/^\s+- (\.\/[^:]+):/gm)].map((m) => m[1] as string);
    expect(mounts.length).toBe(3);
    for (const m of mounts) expect(existsSync(join(ROOT, m)), m).toBe(true);
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    // the API and the collector each build their own stage (without a target both would get the last one)
    const targets = [...text.matchAll(/target: (\w+)/g)].map((m) => m[1]);
    expect(targets).toEqual(['api', 'collector']);
    for (const target of targets) expect(dockerfile).toMatch(new RegExp(`^FROM .* AS ${target}$`, 'm'));
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)];
    expect(copies.length).toBeGreaterThan(0);
    for (const m of copies) {
      for (const src of (m[1] as string).split(' ')) {
        const path = src.replace(/\*\.ts$/, '');
        expect(existsSync(join(ROOT, path)), `Dockerfile COPY ${src}`).toBe(true);
      }
    }
    // the Grafana provisioning points at the dashboards' mount and the data source's uid
    const provider = readFileSync(join(ROOT, 'dashboards/provisioning/dashboards/wattscope.yaml'), 'utf8');
    expect(provider).toContain('path: /var/lib/grafana/dashboards/wattscope');
    expect(text).toContain('./dashboards/json:/var/lib/grafana/dashboards/wattscope:ro');
    expect(readFileSync(join(ROOT, 'dashboards/provisioning/datasources/wattscope.yaml'), 'utf8')).toMatch(/uid: wattscope-influxdb[\s\S]*version: InfluxQL[\s\S]*Token \$\{WATTSCOPE_INFLUX_TOKEN\}/);
  });

  it('pins every image to a release, and Grafana to one whose dashboard schema is the dashboards’', () => {
    const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const images = [...text.matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1] as string);
    const pulled = images.filter((i) => !i.startsWith('wattscope/'));
    expect(pulled.length).toBe(2);
    // x.y.z, not `latest`, `2.7` or a missing tag: the same image whenever the stack is pulled
    for (const image of pulled) expect(image, image).toMatch(/^[a-z0-9/._-]+:\d+\.\d+\.\d+$/);
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=\d+\.\d+\.\d+$/m);
    for (const from of dockerfile.matchAll(/^FROM (\S+)/gm)) expect(from[1]).toMatch(/^(node:\$\{NODE_VERSION\}-[a-z-]+|runtime)$/);

    const grafana = pulled.find((i) => /^grafana\/grafana(-oss)?:/.test(i)) as string;
    const [major, minor] = (grafana.split(':')[1] as string).split('.').map(Number) as [number, number];
    const schema = GRAFANA_DASHBOARD_SCHEMA.find((g) => g.major === major && g.minors.includes(minor));
    expect(schema, `the dashboard schemaVersion of Grafana ${major}.${minor} is not in the table below: add it, with where it comes from`).toBeDefined();
    for (const file of ['live-power.json', 'runs.json', 'run-detail.json']) {
      const dashboard = JSON.parse(readFileSync(join(ROOT, 'dashboards/json', file), 'utf8')) as { schemaVersion: number };
      expect(dashboard.schemaVersion, `${file} against ${grafana}`).toBe(schema?.schemaVersion);
    }
    // Grafana stopped publishing grafana/grafana-oss at 12.4.0 (grafana/grafana#110065)
    if (major > 12 || (major === 12 && minor >= 4)) expect(grafana.startsWith('grafana/grafana:')).toBe(true);
  });
});

/**
 * The newest dashboard schemaVersion each Grafana release writes (its DashboardMigrator's), from
 * Grafana's own sources: v41 was merged 2025-02-12 (grafana/grafana#100554) and is what 11.6.0
 * exports, where 11.5.1 exported 40 (miyurud/jasminegraph#286); v42 was merged 2025-09-03
 * (grafana/grafana#110517), is "the final version for the v1 dashboard API"
 * (apps/dashboard/pkg/migration/schemaversion/README.md) and is what 13.0.2 serves over that API
 * (grafana/grafana#126641). Releases whose value is not established here are left out.
 */
const GRAFANA_DASHBOARD_SCHEMA: ReadonlyArray<{ major: number; minors: number[]; schemaVersion: number }> = [
  { major: 11, minors: [5], schemaVersion: 40 },
  { major: 11, minors: [6], schemaVersion: 41 },
  { major: 12, minors: [3, 4], schemaVersion: 42 },
  { major: 13, minors: [0, 1, 2], schemaVersion: 42 },
];
