/**
 * Golden end-to-end (as node_exporter's e2e-output.txt): the collector over every fixture host,
 * and every source alone over each case of its testdata, diffed against the committed output.
 * A change in any parser shows up as the lines it changes. To accept a change:
 *   WATTSCOPE_UPDATE_GOLDEN=1 npx vitest run test/collector/golden
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SOURCES } from '../../../collector/sources/index.js';
import { FIXTURES } from '../fixtures.js';
import { casesOf, collectOnce, expectGolden, fixtureHosts, goldenText, lineDiff, SOURCES_DIR, type TestdataCase } from './harness.js';

const REGENERATE = 'regenerate: WATTSCOPE_UPDATE_GOLDEN=1 npx vitest run test/collector/golden';

describe('golden: the collector over every fixture host', () => {
  for (const host of fixtureHosts()) {
    it(host, async () => {
      const samples = await collectOnce({ host });
      expect(samples.length).toBeGreaterThan(0);
      expectGolden(join(FIXTURES, host, 'golden.lp'), goldenText(samples, `wattscope collect over test/fixtures/hosts/${host}, one second at the default rates\n${REGENERATE}`));
    }, 30_000);
  }
});

/** Each case of a source's testdata, and where it runs: the first fixture host made with it, else its own tree. */
function casesOfSource(source: string): Array<{ c: TestdataCase; host?: string }> {
  const out = new Map<string, { c: TestdataCase; host?: string }>();
  for (const host of fixtureHosts()) for (const c of casesOf(host)) if (c.source === source && !out.has(c.name)) out.set(c.name, { c, host });
  const dir = join(SOURCES_DIR, source, 'testdata');
  for (const name of existsSync(dir) ? readdirSync(dir).sort() : []) {
    const path = join(dir, name);
    const tree = statSync(path).isDirectory() && (existsSync(join(path, 'proc')) || existsSync(join(path, 'sys')));
    // an inference server's page runs on its own, replayed by a stand-in
    const page = source === 'serving' && name.endsWith('.prom');
    const caseName = name.replace(/\.prom$/, '');
    if ((tree || page) && !out.has(caseName)) out.set(caseName, { c: { source, name: caseName, path } });
  }
  return [...out.values()].sort((a, b) => a.c.name.localeCompare(b.c.name));
}

describe('golden: each source alone over its testdata', () => {
  for (const factory of SOURCES) {
    it(factory.name, async () => {
      const dir = join(SOURCES_DIR, factory.name);
      expect(existsSync(join(dir, 'README.md')), `${factory.name}/README.md`).toBe(true);
      const cases = casesOfSource(factory.name);
      expect(cases.length, `${factory.name} has testdata that a fixture host or its own tree runs`).toBeGreaterThan(0);
      const sections: string[] = [];
      for (const { c, host } of cases) {
        const samples = await collectOnce(host ? { host } : c.path.endsWith('.prom') ? { servingPage: c.path } : { caseDir: c.path }, [factory]);
        expect(samples.length, `${factory.name} on ${c.name}`).toBeGreaterThan(0);
        sections.push(goldenText(samples, `case ${c.name}: ${host ? `on fixture host ${host}` : c.path.endsWith('.prom') ? 'its page replayed alone' : 'on its own tree'}`));
      }
      expectGolden(join(dir, 'testdata', 'golden.lp'), `# the ${factory.name} source alone over its testdata, one second at the default rates\n# ${REGENERATE}\n${sections.join('')}`);
    }, 60_000);
  }
});

describe('the golden diff', () => {
  it('shows the lines that changed, with context, and not the rest', () => {
    const lines = ['# h', ...'abcdefghij'.split('').map((k, i) => `${k} x=${i + 1}`)];
    const changed = [...lines.slice(0, 3), 'c x=3.5', ...lines.slice(4), 'k x=11'];
    expect(lineDiff(lines.join('\n'), changed.join('\n'))).toBe(['  a x=1', '  b x=2', '- c x=3', '+ c x=3.5', '  d x=4', '  e x=5', '  …', '  i x=9', '  j x=10', '+ k x=11'].join('\n'));
  });
});
